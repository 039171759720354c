# Presses TAB in a real interactive shell and reports what its completion offered and inserted.
#   zsh -f complete-in-pty.zsh bash|zsh SCRIPT OUT LINE
# Runs `bash --norc --noprofile -i` or `zsh -f -i` (compinit) in a pseudo-terminal (zsh/zpty), sources
# SCRIPT (the output of `weft completion <shell>`), types LINE, TAB, then Ctrl-X Ctrl-B, bound to write
# the edited line. OUT gets one MATCH=<word> line per candidate the shell's own matching kept (zsh:
# `compadd -O`, after zsh filtered by the typed prefix; bash: COMPREPLY of the registered function),
# then BUFFER=<line after TAB>.
zmodload zsh/zpty || exit 3
sh=$1 script=$2 out=$3 line=$4
: > $out
if [[ $sh == zsh ]]; then
  zpty -b t zsh -f -i
  zpty -w t "PS1='> '; LISTMAX=1000; autoload -U compinit && compinit -u -D; source ${(q)script}"
  zpty -w t 'compadd() { local -a m; builtin compadd -O m "$@"; (( $#m )) && print -rl -- "MATCH="${^m} >> '${(q)out}'; builtin compadd "$@"; }'
  zpty -w t 'dump-buffer() { print -r -- "BUFFER=$BUFFER" >> '${(q)out}'; }; zle -N dump-buffer; bindkey "^X^B" dump-buffer'
elif [[ $sh == bash ]]; then
  zpty -b t bash --norc --noprofile -i
  zpty -w t "PS1='> '; source ${(q)script}"
  zpty -w t 'eval "$(declare -f _weft | sed 1s/_weft/_weft_real/)"; _weft() { _weft_real "$@"; local m; for m in "${COMPREPLY[@]}"; do printf "MATCH=%s\n" "$m" >> '${(q)out}'; done; }'
  zpty -w t 'bind -x '\''"\C-x\C-b": printf "BUFFER=%s\n" "$READLINE_LINE" >> '${(q)out}\'
else
  print -u2 "unknown shell $sh"; exit 2
fi
zpty -w -n t "$line"$'\t\C-x\C-b'
for i in {1..150}; do grep -q '^BUFFER=' $out && break; sleep 0.1; done
zpty -d t
grep -q '^BUFFER=' $out || { print -u2 "no answer from $sh within 15 s"; exit 1; }
