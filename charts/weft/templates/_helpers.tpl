{{/* Labels of every object: app.kubernetes.io/{name,part-of,version}, as cli/install/render.ts writes them. */}}
{{- define "weft.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: weft
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{- end -}}

{{/* A PEM value with LF line endings; fails naming the value when it is empty. */}}
{{- define "weft.pem" -}}
{{- $v := required (printf "%s is required (a PEM; see values.yaml)" .name) .value -}}
{{- $v | replace "\r\n" "\n" -}}
{{- end -}}

{{- define "weft.image" -}}
{{- .Values.image | default (printf "ghcr.io/weft-dev/weft:%s" .Chart.AppVersion) -}}
{{- end -}}

{{- define "weft.failurePolicy" -}}
{{- if .Values.ha }}Fail{{ else }}Ignore{{ end -}}
{{- end -}}

{{/* The values weft upgrade reads back (ConfigMap weft-install), keys in alphabetical order like weft install. */}}
{{- define "weft.installValues" -}}
{{- $v := dict "clusterNetworks" .Values.clusterNetworks "controllerLogLevel" .Values.controllerLogLevel "defaultInboundPolicy" .Values.defaultInboundPolicy "externalIssuer" .Values.identity.externalIssuer "ha" .Values.ha "image" (include "weft.image" .) "proxyLogLevel" .Values.proxyLogLevel "trustDomain" .Values.trustDomain -}}
{{- toPrettyJson $v -}}
{{- end -}}
