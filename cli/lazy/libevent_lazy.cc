// cli/lazy/libevent_lazy.cc - the libevent functions lbctl calls, its prober
// (lib/probe) included, loaded on first use (see lazy_library.h).  A
// function lbctl starts to use must be added here: without it the link
// fails (libevent is not linked).
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "lazy/lazy_library.h"

// SONAMEs read from the libraries at configure time (cli/lazy/CMakeLists.txt).
#define CORE LBK_LIBEVENT_CORE_SONAME
#define EXTRA LBK_LIBEVENT_EXTRA_SONAME
#define OPENSSL LBK_LIBEVENT_OPENSSL_SONAME

bool lbctl::libevent_loadable(std::string *error) {
  for (const char *soname : {CORE, EXTRA, OPENSSL})
    if (!lazy_library(soname, error)) return false;
  return true;
}

// event.h: the loop and events
LBK_LAZY_FUNCTION(CORE, const char *, event_get_version, (void), ())
LBK_LAZY_FUNCTION(CORE, struct event_base *, event_base_new, (void), ())
LBK_LAZY_FUNCTION(CORE, void, event_base_free, (struct event_base * base), (base))
LBK_LAZY_FUNCTION(CORE, int, event_base_dispatch, (struct event_base * base), (base))
LBK_LAZY_FUNCTION(CORE, int, event_base_loop, (struct event_base * base, int flags), (base, flags))
LBK_LAZY_FUNCTION(CORE, int, event_base_loopbreak, (struct event_base * base), (base))
LBK_LAZY_FUNCTION(CORE, const struct timeval *, event_base_init_common_timeout,
                  (struct event_base * base, const struct timeval *duration), (base, duration))
LBK_LAZY_FUNCTION(CORE, struct event *, event_new,
                  (struct event_base * base, evutil_socket_t fd, short what, event_callback_fn cb, void *arg),
                  (base, fd, what, cb, arg))
LBK_LAZY_FUNCTION(CORE, void, event_free, (struct event * ev), (ev))
LBK_LAZY_FUNCTION(CORE, int, event_add, (struct event * ev, const struct timeval *timeout), (ev, timeout))
LBK_LAZY_FUNCTION(CORE, void, event_active, (struct event * ev, int res, short ncalls), (ev, res, ncalls))

// util.h
LBK_LAZY_FUNCTION(CORE, int, evutil_closesocket, (evutil_socket_t sock), (sock))
LBK_LAZY_FUNCTION(CORE, void, evutil_freeaddrinfo, (struct evutil_addrinfo * ai), (ai))
LBK_LAZY_FUNCTION(CORE, const char *, evutil_gai_strerror, (int err), (err))
LBK_LAZY_FUNCTION(CORE, const char *, evutil_inet_ntop, (int af, const void *src, char *dst, size_t len),
                  (af, src, dst, len))
LBK_LAZY_FUNCTION(CORE, int, evutil_inet_pton, (int af, const char *src, void *dst), (af, src, dst))

// buffer.h
LBK_LAZY_FUNCTION(CORE, size_t, evbuffer_get_length, (const struct evbuffer *buf), (buf))
LBK_LAZY_FUNCTION(CORE, int, evbuffer_drain, (struct evbuffer * buf, size_t len), (buf, len))
LBK_LAZY_FUNCTION(CORE, int, evbuffer_remove, (struct evbuffer * buf, void *data, size_t len), (buf, data, len))
LBK_LAZY_FUNCTION(CORE, char *, evbuffer_readln,
                  (struct evbuffer * buf, size_t *n_read_out, enum evbuffer_eol_style eol_style),
                  (buf, n_read_out, eol_style))
LBK_LAZY_FUNCTION(CORE, int, evbuffer_peek,
                  (struct evbuffer * buf, ev_ssize_t len, struct evbuffer_ptr *start_at,
                   struct evbuffer_iovec *vec_out, int n_vec),
                  (buf, len, start_at, vec_out, n_vec))

LBK_LAZY_FUNCTION(CORE, int, evbuffer_add, (struct evbuffer * buf, const void *data, size_t datlen),
                  (buf, data, datlen))

// bufferevent.h
LBK_LAZY_FUNCTION(CORE, struct bufferevent *, bufferevent_socket_new,
                  (struct event_base * base, evutil_socket_t fd, int options), (base, fd, options))
LBK_LAZY_FUNCTION(CORE, void, bufferevent_free, (struct bufferevent * bev), (bev))
LBK_LAZY_FUNCTION(CORE, void, bufferevent_setcb,
                  (struct bufferevent * bev, bufferevent_data_cb readcb, bufferevent_data_cb writecb,
                   bufferevent_event_cb eventcb, void *cbarg),
                  (bev, readcb, writecb, eventcb, cbarg))
LBK_LAZY_FUNCTION(CORE, int, bufferevent_enable, (struct bufferevent * bev, short event), (bev, event))
LBK_LAZY_FUNCTION(CORE, int, bufferevent_disable, (struct bufferevent * bev, short event), (bev, event))
LBK_LAZY_FUNCTION(CORE, struct evbuffer *, bufferevent_get_input, (struct bufferevent * bev), (bev))
LBK_LAZY_FUNCTION(CORE, struct evbuffer *, bufferevent_get_output, (struct bufferevent * bev), (bev))
LBK_LAZY_FUNCTION(CORE, int, bufferevent_write, (struct bufferevent * bev, const void *data, size_t size),
                  (bev, data, size))
LBK_LAZY_FUNCTION(CORE, int, bufferevent_set_timeouts,
                  (struct bufferevent * bev, const struct timeval *timeout_read,
                   const struct timeval *timeout_write),
                  (bev, timeout_read, timeout_write))
LBK_LAZY_FUNCTION(CORE, void, bufferevent_setwatermark,
                  (struct bufferevent * bev, short events, size_t lowmark, size_t highmark),
                  (bev, events, lowmark, highmark))

// listener.h
LBK_LAZY_FUNCTION(CORE, struct evconnlistener *, evconnlistener_new_bind,
                  (struct event_base * base, evconnlistener_cb cb, void *ptr, unsigned flags, int backlog,
                   const struct sockaddr *sa, int socklen),
                  (base, cb, ptr, flags, backlog, sa, socklen))
LBK_LAZY_FUNCTION(CORE, void, evconnlistener_free, (struct evconnlistener * lev), (lev))
LBK_LAZY_FUNCTION(CORE, int, evconnlistener_enable, (struct evconnlistener * lev), (lev))
LBK_LAZY_FUNCTION(CORE, evutil_socket_t, evconnlistener_get_fd, (struct evconnlistener * lev), (lev))
LBK_LAZY_FUNCTION(CORE, int, evconnlistener_disable, (struct evconnlistener * lev), (lev))
LBK_LAZY_FUNCTION(CORE, void, evconnlistener_set_error_cb,
                  (struct evconnlistener * lev, evconnlistener_errorcb errorcb), (lev, errorcb))

// dns.h (libevent_extra)
LBK_LAZY_FUNCTION(EXTRA, struct evdns_base *, evdns_base_new,
                  (struct event_base * base, int initialize_nameservers), (base, initialize_nameservers))
LBK_LAZY_FUNCTION(EXTRA, void, evdns_base_free, (struct evdns_base * base, int fail_requests),
                  (base, fail_requests))
LBK_LAZY_FUNCTION(EXTRA, int, evdns_base_nameserver_ip_add, (struct evdns_base * base, const char *ip),
                  (base, ip))
LBK_LAZY_FUNCTION(EXTRA, struct evdns_getaddrinfo_request *, evdns_getaddrinfo,
                  (struct evdns_base * base, const char *nodename, const char *servname,
                   const struct evutil_addrinfo *hints, evdns_getaddrinfo_cb cb, void *arg),
                  (base, nodename, servname, hints, cb, arg))
LBK_LAZY_FUNCTION(EXTRA, void, evdns_getaddrinfo_cancel, (struct evdns_getaddrinfo_request * req), (req))

// http.h (libevent_extra): lbctl's /metrics endpoint (cli/metrics.cc)
LBK_LAZY_FUNCTION(EXTRA, struct evhttp *, evhttp_new, (struct event_base * base), (base))
LBK_LAZY_FUNCTION(EXTRA, void, evhttp_free, (struct evhttp * http), (http))
LBK_LAZY_FUNCTION(EXTRA, struct evhttp_bound_socket *, evhttp_bind_listener,
                  (struct evhttp * http, struct evconnlistener *listener), (http, listener))
LBK_LAZY_FUNCTION(EXTRA, void, evhttp_set_gencb,
                  (struct evhttp * http, void (*cb)(struct evhttp_request *, void *), void *arg),
                  (http, cb, arg))
LBK_LAZY_FUNCTION(EXTRA, void, evhttp_set_timeout, (struct evhttp * http, int timeout_in_secs),
                  (http, timeout_in_secs))
LBK_LAZY_FUNCTION(EXTRA, void, evhttp_set_max_headers_size, (struct evhttp * http, ev_ssize_t max),
                  (http, max))
LBK_LAZY_FUNCTION(EXTRA, void, evhttp_set_max_body_size, (struct evhttp * http, ev_ssize_t max),
                  (http, max))
LBK_LAZY_FUNCTION(EXTRA, void, evhttp_set_allowed_methods, (struct evhttp * http, ev_uint16_t methods),
                  (http, methods))
LBK_LAZY_FUNCTION(EXTRA, enum evhttp_cmd_type, evhttp_request_get_command,
                  (const struct evhttp_request *req), (req))
LBK_LAZY_FUNCTION(EXTRA, const struct evhttp_uri *, evhttp_request_get_evhttp_uri,
                  (const struct evhttp_request *req), (req))
LBK_LAZY_FUNCTION(EXTRA, const char *, evhttp_uri_get_path, (const struct evhttp_uri *uri), (uri))
LBK_LAZY_FUNCTION(EXTRA, struct evkeyvalq *, evhttp_request_get_output_headers,
                  (struct evhttp_request * req), (req))
LBK_LAZY_FUNCTION(EXTRA, struct evbuffer *, evhttp_request_get_output_buffer,
                  (struct evhttp_request * req), (req))
LBK_LAZY_FUNCTION(EXTRA, int, evhttp_add_header,
                  (struct evkeyvalq * headers, const char *key, const char *value), (headers, key, value))
LBK_LAZY_FUNCTION(EXTRA, void, evhttp_send_reply,
                  (struct evhttp_request * req, int code, const char *reason, struct evbuffer *databuf),
                  (req, code, reason, databuf))
LBK_LAZY_FUNCTION(EXTRA, void, evhttp_send_error, (struct evhttp_request * req, int error, const char *reason),
                  (req, error, reason))

// bufferevent_ssl.h (libevent_openssl)
LBK_LAZY_FUNCTION(OPENSSL, struct bufferevent *, bufferevent_openssl_socket_new,
                  (struct event_base * base, evutil_socket_t fd, struct ssl_st *ssl,
                   enum bufferevent_ssl_state state, int options),
                  (base, fd, ssl, state, options))
LBK_LAZY_FUNCTION(OPENSSL, unsigned long, bufferevent_get_openssl_error, (struct bufferevent * bev), (bev))
LBK_LAZY_FUNCTION(OPENSSL, void, bufferevent_openssl_set_allow_dirty_shutdown,
                  (struct bufferevent * bev, int allow_dirty_shutdown), (bev, allow_dirty_shutdown))
