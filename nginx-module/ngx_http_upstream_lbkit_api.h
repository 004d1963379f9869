/*
 * ngx_http_upstream_lbkit_api.h - dynamic membership of lbkit upstreams and
 * the NGINX Plus–compatible REST API (ngx_http_upstream_lbkit_api.c), as the
 * module's core (ngx_http_upstream_lbkit_module.c) and zone
 * (ngx_http_upstream_lbkit_zone.c) call them.
 *
 * Every lbkit upstream has room for `lbkit_capacity` servers: its pool, peer
 * table, check records and ledger are sized for that many ids, and ids above
 * the configured servers are free for servers the API adds.  One record per
 * id in the shared zone holds what a worker needs to connect to the server
 * (address, name); workers copy changed records into their own peer table
 * before they use an id (ngx_http_upstream_lbkit_api_sync).
 */

#ifndef NGX_HTTP_UPSTREAM_LBKIT_API_H_INCLUDED
#define NGX_HTTP_UPSTREAM_LBKIT_API_H_INCLUDED

#include "ngx_http_upstream_lbkit.h"


extern ngx_module_t  ngx_http_upstream_lbkit_api_module;


/*
 * nginx 1.27.3 and later resolve `server NAME resolve` at run time for
 * balancers that set NGX_HTTP_UPSTREAM_MODIFY; the addresses live in the
 * upstream's zone, and peers->config counts their changes.  lbkit follows
 * them into its pool (ngx_http_upstream_lbkit_api_sync).
 */
#if (NGX_HTTP_UPSTREAM_ZONE && nginx_version >= 1027003)
#define NGX_HTTP_LBKIT_RESOLVE  1
#else
#define NGX_HTTP_LBKIT_RESOLVE  0
#endif


/*
 * The ids upstream @us has room for, given @configured addresses
 * (`lbkit_capacity`, default configured + 64).  0 with an [emerg] logged when
 * the capacity is below the configured count or above LBK_PEERS_MAX.
 */
ngx_uint_t ngx_http_upstream_lbkit_api_capacity(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us, ngx_uint_t configured);

/* Bytes the upstream's membership records take in the shared zone. */
size_t ngx_http_upstream_lbkit_api_shm_size(
    ngx_http_upstream_lbkit_srv_conf_t *lscf, ngx_uint_t configured);

/*
 * In the master, at zone init, after the configured peers were added to the
 * pool (shpool locked): allocates the records and the process-local copies
 * and writes one record per configured peer.
 */
ngx_int_t ngx_http_upstream_lbkit_api_place(ngx_cycle_t *cycle,
    ngx_slab_pool_t *shpool, ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_uint_t configured);

/*
 * In the master, at zone init, after the reload state copy: carries the
 * membership changes made through the API over from the previous cycle
 * (@old, may be NULL) or, at a start, from each upstream's `lbkit_state`
 * file.  NGX_ERROR (logged) for a state file that cannot be read.
 */
ngx_int_t ngx_http_upstream_lbkit_api_restore(ngx_cycle_t *cycle,
    ngx_http_upstream_lbkit_main_conf_t *lmcf,
    ngx_http_upstream_lbkit_main_conf_t *old);

/*
 * Brings this process's peer table up to date with the shared records
 * (cheap when nothing changed: one load and compare).  Call before using a
 * peer id the pool returned.
 */
void ngx_http_upstream_lbkit_api_sync_changed(
    ngx_http_upstream_lbkit_srv_conf_t *lscf);

typedef struct {
    ngx_atomic_t               *generation;   /* shared */
    ngx_atomic_uint_t           seen;         /* this process's copy */
    ngx_uint_t                 *resolved;     /* peers->config of the zone
                                                 (`resolve`), or NULL */
    ngx_uint_t                  resolved_seen;
} ngx_http_upstream_lbkit_api_gen_t;

static ngx_inline void
ngx_http_upstream_lbkit_api_sync(ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    ngx_http_upstream_lbkit_api_gen_t  *g = lscf->api;

    if (g != NULL
        && (*g->generation != g->seen
            || (g->resolved && *g->resolved != g->resolved_seen)))
    {
        ngx_http_upstream_lbkit_api_sync_changed(lscf);
    }
}

#endif /* NGX_HTTP_UPSTREAM_LBKIT_API_H_INCLUDED */
