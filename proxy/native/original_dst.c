/*
 * getOriginalDst(fd): the destination a connection had before iptables REDIRECT/DNAT rewrote it,
 * read with getsockopt(SO_ORIGINAL_DST) (IPv4) or getsockopt(IP6T_SO_ORIGINAL_DST) (IPv6).
 * Written by hand because no maintained npm package reads this option (sockopt reads integers only).
 *
 * Returns { address, port, family } or null when the connection was not NATed (ENOENT);
 * throws an Error with `code` set to the errno name for anything else.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, int err) {
  const char *code = err == EBADF ? "EBADF" : err == ENOTSOCK ? "ENOTSOCK" : err == ENOPROTOOPT ? "ENOPROTOOPT" : "EORIGDST";
  napi_throw_error(env, code, strerror(err));
  return NULL;
}

static napi_value make_result(napi_env env, const char *addr, int port, int family) {
  napi_value obj, a, p, f;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, addr, NAPI_AUTO_LENGTH, &a);
  napi_create_int32(env, port, &p);
  napi_create_int32(env, family, &f);
  napi_set_named_property(env, obj, "address", a);
  napi_set_named_property(env, obj, "port", p);
  napi_set_named_property(env, obj, "family", f);
  return obj;
}

static napi_value get_original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "getOriginalDst(fd): fd must be a non-negative integer");
    return NULL;
  }

  struct sockaddr_storage local;
  socklen_t local_len = sizeof(local);
  if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0) return throw_errno(env, errno);

  char text[INET6_ADDRSTRLEN];
  if (local.ss_family == AF_INET6) {
    struct sockaddr_in6 dst6;
    socklen_t len6 = sizeof(dst6);
    memset(&dst6, 0, sizeof(dst6));
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst6, &len6) == 0) {
      if (IN6_IS_ADDR_V4MAPPED(&dst6.sin6_addr)) {
        inet_ntop(AF_INET, &dst6.sin6_addr.s6_addr[12], text, sizeof(text));
        return make_result(env, text, ntohs(dst6.sin6_port), 4);
      }
      inet_ntop(AF_INET6, &dst6.sin6_addr, text, sizeof(text));
      return make_result(env, text, ntohs(dst6.sin6_port), 6);
    }
    /* An IPv4 connection accepted on a dual-stack socket is tracked by the IPv4 table. */
    if (errno != ENOENT && errno != ENOPROTOOPT) return throw_errno(env, errno);
  }

  struct sockaddr_in dst;
  socklen_t len = sizeof(dst);
  memset(&dst, 0, sizeof(dst));
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0) {
    if (errno == ENOENT) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    return throw_errno(env, errno);
  }
  inet_ntop(AF_INET, &dst.sin_addr, text, sizeof(text));
  return make_result(env, text, ntohs(dst.sin_port), 4);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "getOriginalDst", NAPI_AUTO_LENGTH, get_original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "getOriginalDst", fn);
  return exports;
}
