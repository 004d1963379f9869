/*
 * ngx_http_upstream_lbkit_check.h - what the `lbkit_check` parser
 * (ngx_http_upstream_lbkit_check_conf.c) leaves for the active checks
 * (ngx_http_upstream_lbkit_check.c), beside the public part in
 * ngx_http_upstream_lbkit_check_conf_t.  Private to those two files.
 */

#ifndef NGX_HTTP_UPSTREAM_LBKIT_CHECK_H_INCLUDED
#define NGX_HTTP_UPSTREAM_LBKIT_CHECK_H_INCLUDED

#include "ngx_http_upstream_lbkit.h"


/*
 * Per upstream, hung on lscf->check.data by the parser; lives in the
 * configuration cycle's pool.  Read-only after the parser, but for `ctxs`.
 */
typedef struct {
    ngx_flag_t                  tls;          /* connect with TLS */
    ngx_flag_t                  tls_verify;   /* verify chain and name */
    ngx_str_t                   tls_name;     /* name to verify and SNI;
                                                 empty = the peer's host */
    ngx_str_t                   tls_trusted;  /* CA file; empty = system */
    ngx_str_t                   headers;      /* joined `headers=` lines */
    const lbk_chain_profile    *chain;        /* `chain=`, or NULL */
    ngx_msec_t                  lease;        /* claim lease length */
    /* per worker, by id: the peer's check, or NULL (set at init_process) */
    void                      **ctxs;
    /* type=agent: `agent=HOST:PORT` (NULL = each peer's host at port=) and
       `agent_pool=NAME`, sent as "NAME/" before the server's name */
    ngx_addr_t                 *agent;
    ngx_str_t                   agent_pool;
} ngx_http_upstream_lbkit_check_extra_t;


#endif /* NGX_HTTP_UPSTREAM_LBKIT_CHECK_H_INCLUDED */
