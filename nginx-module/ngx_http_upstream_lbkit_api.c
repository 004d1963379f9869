/*
 * ngx_http_upstream_lbkit_api.c - dynamic lbkit upstreams:
 *
 *  - `lbkit_capacity N;` (upstream): ids for servers the API adds;
 *  - `lbkit_state FILE;` (upstream): API changes written to FILE (atomically)
 *    and loaded at start;
 *  - `lbkit_api [write=on|off];` (location): the upstream part of the NGINX
 *    Plus REST API (versions 1 to 9), with the endpoints Plus clients read at
 *    start answered with what open-source nginx knows.
 *
 * Membership lives in the shared zone: the pool (lbk ids) and one record per
 * id with the server's address.  An API write takes the zone's slab mutex
 * (nginx releases it if its holder dies), validates everything, then applies
 * it: an added server enters the pool administratively down, its record is
 * written (seqlock) and the generation bumped, and only then is it put in
 * service, so a worker that picks it has seen its record.  A removed server
 * leaves the pool first.  Workers copy changed records into their peer table
 * before using an id (ngx_http_upstream_lbkit_api_sync).
 *
 * Reload and restart keep API changes by one rule (see the man page):
 * servers the API added stay unless the configuration now lists them (then
 * they are configured servers with the API's settings); configured servers
 * the API changed keep the API's settings; configured servers the API
 * deleted stay deleted while the configuration lists them; everything else
 * is as configured.
 */

#include "ngx_http_upstream_lbkit_api.h"
#include "ngx_http_upstream_lbkit_json.h"

#include <fcntl.h>


#define NGX_LBKIT_API_DEFAULT_EXTRA   64
#define NGX_LBKIT_API_VERSIONS        9
#define NGX_LBKIT_API_MAX_SEGS        8
#define NGX_LBKIT_API_MAX_BODY        65536
#define NGX_LBKIT_API_MAX_STATE       (64 * 1024 * 1024)
#define NGX_LBKIT_API_ROUTE_MAX       32

#define NGX_LBKIT_ORIGIN_CONFIG       0
#define NGX_LBKIT_ORIGIN_API          1
#define NGX_LBKIT_ORIGIN_RESOLVE      2    /* `server NAME resolve` */


/* One id's membership record (shared memory). */
typedef struct {
    ngx_atomic_t                seq;        /* odd while being written */
    uint32_t                    used;
    uint32_t                    origin;     /* NGX_LBKIT_ORIGIN_* */
    uint32_t                    modified;   /* the API changed its settings */
    uint32_t                    backup;
    uint32_t                    slow_start_ms;
    socklen_t                   socklen;
    ngx_sockaddr_t              sockaddr;
    u_char                      name[LBK_NAME_MAX];
    u_char                      server[LBK_NAME_MAX];
    u_char                      address[NGX_SOCKADDR_STRLEN + 1];
    u_char                      route[NGX_LBKIT_API_ROUTE_MAX + 1];
} ngx_lbkit_api_record_t;


/* Shared header; records[capacity] and the deleted configured servers'
   names (tombs[configured][LBK_NAME_MAX]) follow. */
typedef struct {
    ngx_atomic_t                generation;
    uint32_t                    ntombs;
    ngx_atomic_t                resolved;   /* peers->config followed */
} ngx_lbkit_api_shm_t;


/* This process's copy of one record (the peer table points into it). */
typedef struct {
    ngx_atomic_uint_t           seq;
    ngx_sockaddr_t              sockaddr;
    u_char                      name[LBK_NAME_MAX];
    u_char                      server[LBK_NAME_MAX];
    u_char                      address[NGX_SOCKADDR_STRLEN + 1];
} ngx_lbkit_api_local_t;


typedef struct {
    ngx_http_upstream_lbkit_api_gen_t   gen;  /* first: see the header */
    ngx_lbkit_api_shm_t                *shm;
    ngx_lbkit_api_record_t             *rec;
    u_char                             *tombs;
    ngx_lbkit_api_local_t              *local;
    ngx_uint_t                          capacity;
    ngx_uint_t                          configured;
    ngx_str_t                           state_file;  /* len 0: none */
    ngx_slab_pool_t                    *shpool;
    u_char                             *present;     /* [capacity], scratch */
} ngx_lbkit_api_t;


typedef struct {
    ngx_uint_t                  capacity;   /* NGX_CONF_UNSET_UINT: default */
    ngx_str_t                   state;
    u_char                     *state_conf_file;
    ngx_uint_t                  state_conf_line;
} ngx_lbkit_api_srv_conf_t;


typedef struct {
    ngx_flag_t                  enabled;
    ngx_flag_t                  write;
} ngx_lbkit_api_loc_conf_t;


/* A server's settings as a POST, PATCH, reload or state file gives them. */
typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   server;
    ngx_str_t                   address;
    ngx_str_t                   route;
    uint32_t                    weight;
    uint32_t                    max_conns;
    uint32_t                    max_fails;
    uint32_t                    fail_timeout_ms;
    uint32_t                    slow_start_ms;
    int                         backup;
    int                         admin_state;   /* enum lbk_admin_state */
    unsigned                    has_weight:1;
    unsigned                    has_max_conns:1;
    unsigned                    has_max_fails:1;
    unsigned                    has_fail_timeout:1;
    unsigned                    has_slow_start:1;
    unsigned                    has_backup:1;
    unsigned                    has_down:1;
    unsigned                    has_drain:1;
    unsigned                    has_server:1;
    unsigned                    has_route:1;
    unsigned                    down:1;
    unsigned                    drain:1;
    unsigned                    origin_api:1;
    unsigned                    modified:1;
    unsigned                    deleted:1;
    uint32_t                    old_id;        /* reload: id in the old pool */
} ngx_lbkit_api_entry_t;


/* An API answer being built. */
typedef struct {
    ngx_uint_t                  status;
    ngx_lbkit_json_out_t        out;
} ngx_lbkit_api_reply_t;


static void *ngx_http_upstream_lbkit_api_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_upstream_lbkit_api_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_upstream_lbkit_api_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_upstream_lbkit_api_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upstream_lbkit_capacity_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upstream_lbkit_state_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_upstream_lbkit_api_handler(ngx_http_request_t *r);
static ngx_int_t ngx_lbkit_api_save_state(ngx_log_t *log,
    ngx_http_upstream_lbkit_srv_conf_t *lscf);
#if (NGX_HTTP_LBKIT_RESOLVE)
static ngx_int_t ngx_http_upstream_lbkit_api_init_process(ngx_cycle_t *cycle);
static void ngx_lbkit_api_follow_resolved(
    ngx_http_upstream_lbkit_srv_conf_t *lscf, ngx_lbkit_api_t *api);
#endif


static ngx_command_t  ngx_http_upstream_lbkit_api_commands[] = {

    { ngx_string("lbkit_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_upstream_lbkit_api_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lbkit_capacity"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_upstream_lbkit_capacity_directive,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lbkit_state"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE1,
      ngx_http_upstream_lbkit_state_directive,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upstream_lbkit_api_module_ctx = {
    NULL,                                          /* preconfiguration */
    NULL,                                          /* postconfiguration */
    NULL,                                          /* create main conf */
    NULL,                                          /* init main conf */
    ngx_http_upstream_lbkit_api_create_srv_conf,   /* create server conf */
    NULL,                                          /* merge server conf */
    ngx_http_upstream_lbkit_api_create_loc_conf,   /* create location conf */
    ngx_http_upstream_lbkit_api_merge_loc_conf     /* merge location conf */
};


ngx_module_t  ngx_http_upstream_lbkit_api_module = {
    NGX_MODULE_V1,
    &ngx_http_upstream_lbkit_api_module_ctx,       /* module context */
    ngx_http_upstream_lbkit_api_commands,          /* module directives */
    NGX_HTTP_MODULE,                               /* module type */
    NULL,                                          /* init master */
    NULL,                                          /* init module */
#if (NGX_HTTP_LBKIT_RESOLVE)
    ngx_http_upstream_lbkit_api_init_process,      /* init process */
#else
    NULL,                                          /* init process */
#endif
    NULL,                                          /* init thread */
    NULL,                                          /* exit thread */
    NULL,                                          /* exit process */
    NULL,                                          /* exit master */
    NGX_MODULE_V1_PADDING
};


/* ---------------------------------------------------------------------- */
/* Directives                                                             */
/* ---------------------------------------------------------------------- */

static void *
ngx_http_upstream_lbkit_api_create_srv_conf(ngx_conf_t *cf)
{
    ngx_lbkit_api_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_lbkit_api_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->capacity = NGX_CONF_UNSET_UINT;

    return conf;
}


static void *
ngx_http_upstream_lbkit_api_create_loc_conf(ngx_conf_t *cf)
{
    ngx_lbkit_api_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_lbkit_api_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enabled = NGX_CONF_UNSET;
    conf->write = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_upstream_lbkit_api_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_lbkit_api_loc_conf_t  *prev = parent;
    ngx_lbkit_api_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->enabled, prev->enabled, 0);
    ngx_conf_merge_value(conf->write, prev->write, 0);

    return NGX_CONF_OK;
}


/* lbkit_api [write=on|off]; */
static char *
ngx_http_upstream_lbkit_api_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_lbkit_api_loc_conf_t  *alcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (alcf->enabled != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    alcf->enabled = 1;
    alcf->write = 0;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "write=on") == 0) {
            alcf->write = 1;

        } else if (ngx_strcmp(value[1].data, "write=off") == 0) {
            alcf->write = 0;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of \"lbkit_api\": "
                               "expected write=on or write=off", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_upstream_lbkit_api_handler;

    return NGX_CONF_OK;
}


/* lbkit_capacity N; */
static char *
ngx_http_upstream_lbkit_capacity_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_lbkit_api_srv_conf_t  *ascf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (ascf->capacity != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n < 1 || n > LBK_PEERS_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"lbkit_capacity\" \"%V\": expected a "
                           "number of servers from 1 to %d", &value[1],
                           LBK_PEERS_MAX);
        return NGX_CONF_ERROR;
    }

    ascf->capacity = (ngx_uint_t) n;

    return NGX_CONF_OK;
}


/* lbkit_state FILE; */
static char *
ngx_http_upstream_lbkit_state_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_lbkit_api_srv_conf_t  *ascf = conf;

    ngx_str_t  *value;

    if (ascf->state.len) {
        return "is duplicate";
    }

    value = cf->args->elts;
    ascf->state = value[1];

    if (ascf->state.len == 0) {
        return "needs a file name";
    }

    if (ngx_conf_full_name(cf->cycle, &ascf->state, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ascf->state_conf_file = cf->conf_file->file.name.data;
    ascf->state_conf_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


ngx_uint_t
ngx_http_upstream_lbkit_api_capacity(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us, ngx_uint_t configured)
{
    ngx_uint_t                 capacity;
    ngx_lbkit_api_srv_conf_t  *ascf;

    ascf = ngx_http_conf_upstream_srv_conf(us,
                                           ngx_http_upstream_lbkit_api_module);

    if (ascf->capacity == NGX_CONF_UNSET_UINT) {
        capacity = ngx_min(configured + NGX_LBKIT_API_DEFAULT_EXTRA,
                           LBK_PEERS_MAX);

    } else {
        capacity = ascf->capacity;
    }

    if (capacity < configured) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" in %s:%ui has %ui addresses, more than "
                      "its \"lbkit_capacity\" %ui", &us->host, us->file_name,
                      us->line, configured, capacity);
        return 0;
    }

    return capacity;
}


size_t
ngx_http_upstream_lbkit_api_shm_size(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_uint_t configured)
{
    return sizeof(ngx_lbkit_api_shm_t)
           + lscf->npeers * sizeof(ngx_lbkit_api_record_t)
           + configured * LBK_NAME_MAX;
}


/* ---------------------------------------------------------------------- */
/* Records and the process-local peer table                               */
/* ---------------------------------------------------------------------- */

static ngx_lbkit_api_t *
ngx_lbkit_api_of(ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    return lscf->api;
}


static void
ngx_lbkit_api_copy_text(u_char *dst, size_t cap, ngx_str_t *src)
{
    size_t  n = ngx_min(src->len, cap - 1);

    ngx_memcpy(dst, src->data, n);
    dst[n] = '\0';
}


/* Starts a record write (single writer: the API mutex, or the master). */
static void
ngx_lbkit_api_rec_begin(ngx_lbkit_api_record_t *rec)
{
    rec->seq++;
    ngx_memory_barrier();
}


/* Ends a record write and tells every worker that records changed. */
static void
ngx_lbkit_api_rec_end(ngx_lbkit_api_t *api, ngx_lbkit_api_record_t *rec)
{
    ngx_memory_barrier();
    rec->seq++;
    ngx_memory_barrier();
    (void) ngx_atomic_fetch_add(&api->shm->generation, 1);
}


/* Fills the record of @id with a server's identity and address. */
static void
ngx_lbkit_api_rec_write(ngx_lbkit_api_t *api, uint32_t id, ngx_uint_t origin,
    ngx_lbkit_api_entry_t *e, struct sockaddr *sa, socklen_t socklen)
{
    ngx_lbkit_api_record_t  *rec = &api->rec[id];

    ngx_lbkit_api_rec_begin(rec);

    rec->used = 1;
    rec->origin = (uint32_t) origin;
    rec->modified = e->modified;
    rec->backup = e->backup ? 1 : 0;
    rec->slow_start_ms = e->slow_start_ms;
    rec->socklen = socklen;
    ngx_memcpy(&rec->sockaddr, sa, socklen);
    ngx_lbkit_api_copy_text(rec->name, sizeof(rec->name), &e->name);
    ngx_lbkit_api_copy_text(rec->server, sizeof(rec->server), &e->server);
    ngx_lbkit_api_copy_text(rec->address, sizeof(rec->address), &e->address);
    ngx_lbkit_api_copy_text(rec->route, sizeof(rec->route), &e->route);

    ngx_lbkit_api_rec_end(api, rec);
}


static void
ngx_lbkit_api_rec_clear(ngx_lbkit_api_t *api, uint32_t id)
{
    ngx_lbkit_api_record_t  *rec = &api->rec[id];

    ngx_lbkit_api_rec_begin(rec);
    rec->used = 0;
    ngx_lbkit_api_rec_end(api, rec);
}


/* Remembers that configured server @name was deleted. */
static void
ngx_lbkit_api_add_tomb(ngx_lbkit_api_t *api, u_char *name)
{
    ngx_uint_t  i;
    u_char     *t;

    for (i = 0; i < api->shm->ntombs; i++) {
        if (ngx_strcmp(api->tombs + i * LBK_NAME_MAX, name) == 0) {
            return;
        }
    }

    if (api->shm->ntombs >= api->configured) {
        return;     /* cannot happen: one tomb per configured server */
    }

    t = api->tombs + api->shm->ntombs * LBK_NAME_MAX;
    ngx_cpystrn(t, name, LBK_NAME_MAX);
    api->shm->ntombs++;
    (void) ngx_atomic_fetch_add(&api->shm->generation, 1);
}


ngx_int_t
ngx_http_upstream_lbkit_api_place(ngx_cycle_t *cycle, ngx_slab_pool_t *shpool,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, ngx_uint_t configured)
{
    u_char                           *mem;
    ngx_uint_t                        id;
    ngx_lbkit_api_t                  *api;
    ngx_lbkit_api_record_t           *rec;
    ngx_lbkit_api_srv_conf_t         *ascf;
    ngx_http_upstream_lbkit_peer_t   *peer;

    ascf = ngx_http_conf_upstream_srv_conf(lscf->upstream,
                                           ngx_http_upstream_lbkit_api_module);

    api = ngx_pcalloc(cycle->pool, sizeof(ngx_lbkit_api_t));
    if (api == NULL) {
        return NGX_ERROR;
    }

    mem = ngx_slab_calloc_locked(shpool,
                   ngx_http_upstream_lbkit_api_shm_size(lscf, configured));
    api->local = ngx_pcalloc(cycle->pool,
                             lscf->npeers * sizeof(ngx_lbkit_api_local_t));
    api->present = ngx_pcalloc(cycle->pool, lscf->npeers);

    if (mem == NULL || api->local == NULL || api->present == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "lbkit: shared zone too small for upstream \"%V\"",
                      &lscf->upstream->host);
        return NGX_ERROR;
    }

    api->shm = (ngx_lbkit_api_shm_t *) mem;
    api->rec = (ngx_lbkit_api_record_t *) (mem + sizeof(ngx_lbkit_api_shm_t));
    api->tombs = (u_char *) (api->rec + lscf->npeers);
    api->capacity = lscf->npeers;
    api->configured = configured;
    api->state_file = ascf->state;
    api->shpool = shpool;
    api->gen.generation = &api->shm->generation;

    for (id = 0; id < configured; id++) {
        peer = &lscf->peers[id];
        rec = &api->rec[id];

        rec->seq = 2;
        rec->used = 1;
        rec->origin = NGX_LBKIT_ORIGIN_CONFIG;
        rec->backup = peer->backup;
        rec->socklen = peer->socklen;
        ngx_memcpy(&rec->sockaddr, peer->sockaddr, peer->socklen);
        ngx_lbkit_api_copy_text(rec->name, sizeof(rec->name), &peer->name);
        ngx_lbkit_api_copy_text(rec->server, sizeof(rec->server),
                                &peer->server);
        ngx_lbkit_api_copy_text(rec->address, sizeof(rec->address),
                                &peer->address);
        api->local[id].seq = 2;
    }

    api->gen.seen = api->shm->generation;
    lscf->api = api;

    return NGX_OK;
}


/* Copies record @id into this process's table (seqlock read, bounded). */
static ngx_int_t
ngx_lbkit_api_sync_peer(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_lbkit_api_t *api, uint32_t id)
{
    ngx_uint_t                       attempt;
    ngx_atomic_uint_t                seq;
    ngx_lbkit_api_record_t          *rec, copy;
    ngx_lbkit_api_local_t           *local;
    ngx_http_upstream_lbkit_peer_t  *peer;
    lbk_peer_info                    info;

    rec = &api->rec[id];

    for (attempt = 0; attempt < 16; attempt++) {
        seq = rec->seq;
        if (seq & 1) {
            ngx_cpu_pause();
            continue;
        }
        ngx_memory_barrier();
        ngx_memcpy(&copy, rec, sizeof(copy));
        ngx_memory_barrier();
        if (rec->seq == seq) {
            goto read;
        }
    }

    return NGX_AGAIN;

read:

    local = &api->local[id];
    peer = &lscf->peers[id];

    local->seq = seq;
    peer->id = id;
    peer->used = copy.used ? 1 : 0;

    if (!copy.used) {
        return NGX_OK;
    }

    ngx_memcpy(&local->sockaddr, &copy.sockaddr, sizeof(copy.sockaddr));
    ngx_cpystrn(local->name, copy.name, sizeof(local->name));
    ngx_cpystrn(local->server, copy.server, sizeof(local->server));
    ngx_cpystrn(local->address, copy.address, sizeof(local->address));

    peer->backup = copy.backup ? 1 : 0;
    peer->down = 0;
    peer->name.data = local->name;
    peer->name.len = ngx_strlen(local->name);
    peer->server.data = local->server;
    peer->server.len = ngx_strlen(local->server);
    peer->address.data = local->address;
    peer->address.len = ngx_strlen(local->address);
    peer->host = ngx_http_upstream_lbkit_host_of(&peer->server);
    peer->sockaddr = (struct sockaddr *) &local->sockaddr;
    peer->socklen = copy.socklen;

    ngx_memzero(&info, sizeof(info));
    info.version = LBK_PEER_INFO_VERSION;

    if (lbk_pool_peer_info(&info, lscf->pool, id) == 0) {
        peer->weight = info.weight;
        peer->max_conns = info.max_conns;
        peer->max_fails = info.max_fails;
        peer->fail_timeout = info.fail_timeout_ms;
    }

    return NGX_OK;
}


/* After a peer's record changed: its checks follow (workers only). */
static void
ngx_lbkit_api_peer_changed(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    uint32_t id)
{
    if (ngx_process == NGX_PROCESS_WORKER) {
        ngx_http_upstream_lbkit_check_peer_changed(lscf, id);
    }
}


void
ngx_http_upstream_lbkit_api_sync_changed(
    ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    uint32_t            id;
    ngx_uint_t          tries, stale;
    ngx_atomic_uint_t   generation;
    ngx_lbkit_api_t    *api;

    api = ngx_lbkit_api_of(lscf);

#if (NGX_HTTP_LBKIT_RESOLVE)
    if (api->gen.resolved && *api->gen.resolved != api->gen.resolved_seen) {
        ngx_lbkit_api_follow_resolved(lscf, api);
    }
#endif

    generation = *api->gen.generation;
    ngx_memory_barrier();

    stale = 0;
    tries = 0;

    for (id = 0; id < api->capacity; id++) {
        if (api->rec[id].seq != api->local[id].seq) {
            if (ngx_lbkit_api_sync_peer(lscf, api, id) != NGX_OK) {
                stale = 1;
            } else {
                ngx_lbkit_api_peer_changed(lscf, id);
            }
        }

        if (lscf->peers[id].used && !lscf->peers[id].down) {
            tries++;
        }
    }

    lscf->tries = tries ? tries : 1;

    if (!stale) {
        api->gen.seen = generation;
    }
}


/* ---------------------------------------------------------------------- */
/* Server settings: parsing and applying                                  */
/* ---------------------------------------------------------------------- */

/* An error as the Plus API reports it. */
typedef struct {
    ngx_uint_t                  status;
    const char                 *code;
    u_char                      text[320];
} ngx_lbkit_api_error_t;


static ngx_int_t
ngx_lbkit_api_fail(ngx_lbkit_api_error_t *err, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    u_char   *last;
    va_list   args;

    va_start(args, fmt);
    last = ngx_vslprintf(err->text, err->text + sizeof(err->text) - 1, fmt,
                         args);
    va_end(args);

    *last = '\0';
    err->status = status;
    err->code = code;

    return NGX_ERROR;
}


static ngx_int_t
ngx_lbkit_api_key_is(ngx_lbkit_json_member_t *m, const char *key)
{
    return m->key.len == ngx_strlen(key)
           && ngx_strncmp(m->key.data, key, m->key.len) == 0;
}


/* A whole number from 0 to @max, or -1. */
static int64_t
ngx_lbkit_api_uint(ngx_lbkit_json_member_t *m, int64_t max)
{
    if (m->type != NGX_LBKIT_JSON_NUMBER || !m->integer || m->number < 0
        || m->number > max)
    {
        return -1;
    }

    return m->number;
}


/* A time: "10s", "500ms", "1m" or a number of seconds; ms, or -1. */
static int64_t
ngx_lbkit_api_time(ngx_lbkit_json_member_t *m)
{
    ngx_int_t  ms;

    if (m->type == NGX_LBKIT_JSON_NUMBER) {
        return (m->integer && m->number >= 0 && m->number <= 86400 * 365)
               ? m->number * 1000 : -1;
    }

    if (m->type != NGX_LBKIT_JSON_STRING || m->str.len == 0) {
        return -1;
    }

    ms = ngx_parse_time(&m->str, 0);

    return (ms == NGX_ERROR || ms < 0 || ms > (ngx_int_t) 0x7fffffff)
           ? -1 : (int64_t) ms;
}


/* The numeric members of a server object: whole numbers or times. */
typedef struct {
    const char                 *key;
    const char                 *code;      /* Plus's error code */
    const char                 *hint;
    ngx_uint_t                  time;      /* "10s", or a whole number */
    int64_t                     min;
    int64_t                     max;
    uint32_t                   *value;
} ngx_lbkit_api_numeric_t;


static ngx_int_t
ngx_lbkit_api_numeric(ngx_lbkit_json_member_t *m, ngx_lbkit_api_numeric_t *nums)
{
    ngx_int_t  k;

    for (k = 0; nums[k].key; k++) {
        if (ngx_lbkit_api_key_is(m, nums[k].key)) {
            return k;
        }
    }

    return NGX_ERROR;
}


#define NGX_LBKIT_PARSE_POST   1
#define NGX_LBKIT_PARSE_PATCH  2
#define NGX_LBKIT_PARSE_STATE  3

/*
 * Reads a server object (Plus's field names; the state file adds "name",
 * "address", "origin", "modified" and "deleted") into @e.  Nothing is
 * applied here.
 */
static ngx_int_t
ngx_lbkit_api_parse_entry(ngx_lbkit_json_member_t *members, ngx_uint_t n,
    ngx_uint_t mode, ngx_lbkit_api_entry_t *e, ngx_lbkit_api_error_t *err)
{
    int64_t                   v;
    uint32_t                  given;
    ngx_int_t                 k;
    ngx_uint_t                i;
    ngx_lbkit_json_member_t  *m;
    ngx_lbkit_api_numeric_t   nums[] = {
        { "weight", "UpstreamBadWeight", ": expected 1 to 65535", 0, 1,
          LBK_WEIGHT_MAX, &e->weight },
        { "max_conns", "UpstreamBadMaxConns", "", 0, 0, 0x7fffffff,
          &e->max_conns },
        { "max_fails", "UpstreamBadMaxFails", "", 0, 0, 0x7fffffff,
          &e->max_fails },
        { "fail_timeout", "UpstreamBadFailTimeout", "", 1, 0, 0,
          &e->fail_timeout_ms },
        { "slow_start", "UpstreamBadSlowStart", "", 1, 0, 0,
          &e->slow_start_ms },
        { NULL, NULL, NULL, 0, 0, 0, NULL }
    };

    given = 0;

#define BAD_FORMAT(m)                                                        \
    return ngx_lbkit_api_fail(err, NGX_HTTP_BAD_REQUEST,                     \
                              "UpstreamConfFormatError",                     \
                              "invalid \"%V\" value", &(m)->key)

    for (i = 0; i < n; i++) {
        m = &members[i];

        if (ngx_lbkit_api_key_is(m, "server")) {
            if (m->type != NGX_LBKIT_JSON_STRING || m->str.len == 0) {
                BAD_FORMAT(m);
            }
            if (m->str.len >= LBK_NAME_MAX) {
                return ngx_lbkit_api_fail(err, NGX_HTTP_BAD_REQUEST,
                                          "UpstreamBadAddress",
                                          "server address longer than %d "
                                          "bytes", LBK_NAME_MAX - 1);
            }
            e->server = m->str;
            e->has_server = 1;

        } else if ((k = ngx_lbkit_api_numeric(m, nums)) != NGX_ERROR) {
            v = nums[k].time ? ngx_lbkit_api_time(m)
                             : ngx_lbkit_api_uint(m, nums[k].max);
            if (v < nums[k].min) {
                return ngx_lbkit_api_fail(err, NGX_HTTP_BAD_REQUEST,
                                          nums[k].code, "invalid \"%V\"%s",
                                          &m->key, nums[k].hint);
            }
            *nums[k].value = (uint32_t) v;
            given |= 1u << k;

        } else if (ngx_lbkit_api_key_is(m, "route")) {
            if (m->type != NGX_LBKIT_JSON_STRING) {
                BAD_FORMAT(m);
            }
            if (m->str.len > NGX_LBKIT_API_ROUTE_MAX) {
                return ngx_lbkit_api_fail(err, NGX_HTTP_BAD_REQUEST,
                                          "UpstreamBadRoute",
                                          "route is too long");
            }
            e->route = m->str;
            e->has_route = 1;

        } else if (ngx_lbkit_api_key_is(m, "backup")
                   || ngx_lbkit_api_key_is(m, "down")
                   || ngx_lbkit_api_key_is(m, "drain"))
        {
            if (m->type != NGX_LBKIT_JSON_BOOL) {
                BAD_FORMAT(m);
            }
            if (m->key.data[0] == 'b') {
                e->backup = (int) m->boolean;
                e->has_backup = 1;
            } else if (m->key.data[0] == 'd' && m->key.data[1] == 'o') {
                e->down = m->boolean;
                e->has_down = 1;
            } else {
                e->drain = m->boolean;
                e->has_drain = 1;
            }

        } else if (ngx_lbkit_api_key_is(m, "id")) {
            if (ngx_lbkit_api_uint(m, LBK_PEERS_MAX) < 0) {
                BAD_FORMAT(m);
            }
            e->old_id = (uint32_t) m->number;   /* PATCH compares it */

        } else if (ngx_lbkit_api_key_is(m, "service")) {
            return ngx_lbkit_api_fail(err, NGX_HTTP_BAD_REQUEST,
                                      "UpstreamBadService",
                                      "\"service\" (DNS SRV) is not "
                                      "supported by lbkit's API");

        } else if (mode == NGX_LBKIT_PARSE_STATE
                   && (ngx_lbkit_api_key_is(m, "name")
                       || ngx_lbkit_api_key_is(m, "address")
                       || ngx_lbkit_api_key_is(m, "origin")))
        {
            if (m->type != NGX_LBKIT_JSON_STRING || m->str.len == 0
                || m->str.len >= LBK_NAME_MAX)
            {
                BAD_FORMAT(m);
            }
            if (m->key.data[0] == 'n') {
                e->name = m->str;
            } else if (m->key.data[0] == 'a') {
                e->address = m->str;
            } else {
                e->origin_api = (m->str.len == 3
                                 && ngx_strncmp(m->str.data, "api", 3) == 0);
            }

        } else if (mode == NGX_LBKIT_PARSE_STATE
                   && (ngx_lbkit_api_key_is(m, "modified")
                       || ngx_lbkit_api_key_is(m, "deleted")))
        {
            if (m->type != NGX_LBKIT_JSON_BOOL) {
                BAD_FORMAT(m);
            }
            if (m->key.data[0] == 'm') {
                e->modified = m->boolean;
            } else {
                e->deleted = m->boolean;
            }

        } else {
            return ngx_lbkit_api_fail(err, NGX_HTTP_BAD_REQUEST,
                                      "UpstreamConfFormatError",
                                      "unknown parameter \"%V\"", &m->key);
        }
    }

#undef BAD_FORMAT

    e->has_weight = (given >> 0) & 1;
    e->has_max_conns = (given >> 1) & 1;
    e->has_max_fails = (given >> 2) & 1;
    e->has_fail_timeout = (given >> 3) & 1;
    e->has_slow_start = (given >> 4) & 1;

    if (mode != NGX_LBKIT_PARSE_PATCH && !e->has_server) {
        return ngx_lbkit_api_fail(err, NGX_HTTP_BAD_REQUEST,
                                  "UpstreamConfFormatError",
                                  "missing \"server\" argument");
    }

    if (mode == NGX_LBKIT_PARSE_STATE && e->name.len == 0) {
        e->name = e->server;
    }

    e->admin_state = e->down ? LBK_ADMIN_DOWN
                             : e->drain ? LBK_ADMIN_DRAIN : LBK_ADMIN_UP;

    return NGX_OK;
}


/* Applies the settings @e has to pool peer @id (validated before). */
static void
ngx_lbkit_api_apply(ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id,
    ngx_lbkit_api_entry_t *e, lbk_peer_info *info)
{
    if (e->has_weight) {
        (void) lbk_pool_set_weight(lscf->pool, id, e->weight);
    }

    if (e->has_max_conns) {
        (void) lbk_pool_set_max_conns(lscf->pool, id, e->max_conns);
    }

    if (e->has_max_fails || e->has_fail_timeout) {
        (void) lbk_pool_set_fail_limits(lscf->pool, id,
                             e->has_max_fails ? e->max_fails : info->max_fails,
                             e->has_fail_timeout ? e->fail_timeout_ms
                                                 : info->fail_timeout_ms);
    }

    if (e->has_down || e->has_drain) {
        (void) lbk_pool_set_state(lscf->pool, id, e->admin_state);
    }
}


/* Marks record @id as changed by the API (workers re-read it). */
static void
ngx_lbkit_api_mark_modified(ngx_lbkit_api_t *api, uint32_t id,
    ngx_lbkit_api_entry_t *e)
{
    ngx_lbkit_api_record_t  *rec = &api->rec[id];

    ngx_lbkit_api_rec_begin(rec);
    rec->modified = 1;
    if (e->has_slow_start) {
        rec->slow_start_ms = e->slow_start_ms;
    }
    if (e->has_route) {
        ngx_lbkit_api_copy_text(rec->route, sizeof(rec->route), &e->route);
    }
    ngx_lbkit_api_rec_end(api, rec);
}


/*
 * Adds a server the API gave (or that a reload or the state file carries
 * over) at @sa: into the pool down, its record, then its state.
 */
static ngx_int_t
ngx_lbkit_api_add(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_lbkit_api_entry_t *e, ngx_uint_t origin, struct sockaddr *sa,
    socklen_t socklen, uint32_t *out_id, ngx_lbkit_api_error_t *err)
{
    int               rc;
    u_char            name[LBK_NAME_MAX], address[NGX_SOCKADDR_STRLEN + 1];
    uint32_t          id;
    lbk_peer_config   pc = LBK_PEER_CONFIG_INIT;
    ngx_lbkit_api_t  *api;

    api = ngx_lbkit_api_of(lscf);

    ngx_lbkit_api_copy_text(name, sizeof(name), &e->name);
    ngx_lbkit_api_copy_text(address, sizeof(address), &e->address);

    pc.name = (char *) name;
    pc.address = (char *) address;
    pc.weight = e->has_weight ? e->weight : 1;
    pc.max_conns = e->has_max_conns ? e->max_conns : 0;
    pc.max_fails = e->has_max_fails ? e->max_fails : 1;
    pc.fail_timeout_ms = e->has_fail_timeout ? e->fail_timeout_ms : 10000;
    pc.backup = e->backup;
    pc.down = 1;           /* in service only once its record is written */

    rc = lbk_pool_add(&id, lscf->pool, &pc);

    if (rc == LBK_EDUPNAME) {
        return ngx_lbkit_api_fail(err, NGX_HTTP_CONFLICT, "EntryExists",
                                  "server \"%V\" already exists", &e->name);
    }

    if (rc == LBK_ETOOMANY || (rc == 0 && id >= api->capacity)) {
        if (rc == 0) {
            (void) lbk_pool_remove(lscf->pool, id);
        }
        return ngx_lbkit_api_fail(err, NGX_HTTP_BAD_REQUEST,
                                  "UpstreamOutOfMemory",
                                  "upstream \"%V\" memory exhausted: it has "
                                  "room for %ui servers (lbkit_capacity)",
                                  &lscf->upstream->host, api->capacity);
    }

    if (rc != 0) {
        return ngx_lbkit_api_fail(err, NGX_HTTP_BAD_REQUEST,
                                  "UpstreamConfFormatError", "%s",
                                  lbk_error_last());
    }

    e->modified = (origin == NGX_LBKIT_ORIGIN_API);
    ngx_lbkit_api_rec_write(api, id, origin, e, sa, socklen);
    (void) lbk_pool_set_state(lscf->pool, id, e->admin_state);

    if (lscf->check.enabled && lscf->check.check) {
        (void) lbk_pool_attach_check(lscf->pool, id, lscf->check.check);
    }

    *out_id = id;

    return NGX_OK;
}


/* Removes server @id (configured ones leave a tomb for reloads). */
static void
ngx_lbkit_api_remove(ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id)
{
    ngx_lbkit_api_t  *api = ngx_lbkit_api_of(lscf);

    (void) lbk_pool_remove(lscf->pool, id);

    if (api->rec[id].origin == NGX_LBKIT_ORIGIN_CONFIG) {
        ngx_lbkit_api_add_tomb(api, api->rec[id].name);
    }

    ngx_lbkit_api_rec_clear(api, id);
}


/* ---------------------------------------------------------------------- */
/* Reload and restart                                                     */
/* ---------------------------------------------------------------------- */

static void
ngx_lbkit_api_entry_of(ngx_lbkit_api_t *api, uint32_t id, lbk_peer_info *info,
    ngx_lbkit_api_entry_t *e)
{
    ngx_lbkit_api_record_t  *rec = &api->rec[id];

    ngx_memzero(e, sizeof(*e));

    e->name.data = rec->name;
    e->name.len = ngx_strlen(rec->name);
    e->server.data = rec->server;
    e->server.len = ngx_strlen(rec->server);
    e->address.data = rec->address;
    e->address.len = ngx_strlen(rec->address);
    e->route.data = rec->route;
    e->route.len = ngx_strlen(rec->route);
    e->weight = info->weight;
    e->max_conns = info->max_conns;
    e->max_fails = info->max_fails;
    e->fail_timeout_ms = info->fail_timeout_ms;
    e->slow_start_ms = rec->slow_start_ms;
    e->backup = info->backup;
    e->down = (info->admin_state == LBK_ADMIN_DOWN
               || info->admin_state == LBK_ADMIN_MAINT);
    e->drain = (info->admin_state == LBK_ADMIN_DRAIN);
    e->admin_state = e->down ? LBK_ADMIN_DOWN
                             : e->drain ? LBK_ADMIN_DRAIN : LBK_ADMIN_UP;
    e->has_weight = e->has_max_conns = e->has_max_fails = 1;
    e->has_fail_timeout = e->has_slow_start = e->has_down = 1;
    e->has_drain = e->has_route = e->has_server = 1;
    e->origin_api = (rec->origin == NGX_LBKIT_ORIGIN_API);
    e->modified = rec->modified;
    e->old_id = id;
}


/* Merges one carried-over entry into the new pool (the rule at the top). */
static ngx_int_t
ngx_lbkit_api_merge(ngx_cycle_t *cycle,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, ngx_lbkit_api_entry_t *e,
    lbk_pool *old_pool)
{
    u_char                  name[LBK_NAME_MAX];
    uint32_t                id;
    ngx_addr_t              addr;
    lbk_peer_info           info;
    ngx_lbkit_api_t        *api;
    ngx_lbkit_api_error_t   err;

    api = ngx_lbkit_api_of(lscf);
    ngx_lbkit_api_copy_text(name, sizeof(name), &e->name);

    if (lbk_pool_find(&id, lscf->pool, (char *) name) == 0) {

        if (e->deleted) {
            if (api->rec[id].origin == NGX_LBKIT_ORIGIN_CONFIG) {
                ngx_lbkit_api_remove(lscf, id);
            }
            return NGX_OK;
        }

        if (e->origin_api || e->modified) {
            ngx_memzero(&info, sizeof(info));
            info.version = LBK_PEER_INFO_VERSION;
            if (lbk_pool_peer_info(&info, lscf->pool, id) == 0) {
                ngx_lbkit_api_apply(lscf, id, e, &info);
                ngx_lbkit_api_mark_modified(api, id, e);
            }
        }

        return NGX_OK;
    }

    if (e->deleted || !e->origin_api) {
        return NGX_OK;      /* the configuration no longer lists it */
    }

    if (e->address.len == 0
        || ngx_parse_addr_port(cycle->pool, &addr, e->address.data,
                               e->address.len) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "lbkit: upstream \"%V\" server \"%V\": bad address "
                      "\"%V\"", &lscf->upstream->host, &e->name, &e->address);
        return NGX_ERROR;
    }

    if (ngx_lbkit_api_add(lscf, e, NGX_LBKIT_ORIGIN_API, addr.sockaddr,
                          addr.socklen, &id, &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "lbkit: upstream \"%V\" server \"%V\" cannot be kept: "
                      "%s", &lscf->upstream->host, &e->name, err.text);
        return NGX_ERROR;
    }

    if (old_pool && e->old_id != LBK_PEER_NONE) {
        (void) lbk_pool_peer_state_copy(lscf->pool, id, old_pool, e->old_id);
    }

    return NGX_OK;
}


/* Reads an upstream's `lbkit_state` file into entries (none when absent). */
static ngx_int_t
ngx_lbkit_api_load_state(ngx_cycle_t *cycle,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, ngx_array_t *entries)
{
    int                       fd;
    u_char                   *buf, *p, *eol, *last;
    ssize_t                   n;
    ngx_str_t                 nested;
    ngx_uint_t                line, nm;
    struct stat               st;
    const char               *why;
    ngx_lbkit_api_t          *api;
    ngx_lbkit_api_entry_t    *e;
    ngx_lbkit_api_error_t     err;
    ngx_lbkit_json_member_t   members[NGX_LBKIT_JSON_MAX_MEMBERS];

    api = ngx_lbkit_api_of(lscf);

    fd = open((char *) api->state_file.data, O_RDONLY | O_NOFOLLOW);
    if (fd == -1) {
        if (ngx_errno == NGX_ENOENT) {
            return NGX_OK;
        }
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "lbkit: upstream \"%V\": cannot open lbkit_state "
                      "file \"%V\"", &lscf->upstream->host, &api->state_file);
        return NGX_ERROR;
    }

    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)
        || st.st_size > NGX_LBKIT_API_MAX_STATE)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "lbkit: lbkit_state file \"%V\" is not a regular file "
                      "of at most %d bytes", &api->state_file,
                      NGX_LBKIT_API_MAX_STATE);
        close(fd);
        return NGX_ERROR;
    }

    buf = ngx_pnalloc(cycle->pool, (size_t) st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return NGX_ERROR;
    }

    n = read(fd, buf, (size_t) st.st_size);
    close(fd);

    if (n != (ssize_t) st.st_size) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "lbkit: cannot read lbkit_state file \"%V\"",
                      &api->state_file);
        return NGX_ERROR;
    }

    last = buf + n;
    line = 0;

    for (p = buf; p < last; p = eol + 1) {
        line++;
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            eol = last;
        }

        if (eol == p) {
            continue;
        }

        why = NULL;

        switch (ngx_lbkit_json_parse_flat(cycle->pool, p, eol - p, members,
                                          &nm, &nested, &why))
        {
        case NGX_OK:
            break;
        case NGX_DECLINED:
            why = "a nested object or list";
            /* fall through */
        default:
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "lbkit: %V:%ui: corrupt lbkit_state file: %s "
                          "(fix or remove the file to start from the "
                          "configuration)", &api->state_file, line, why);
            return NGX_ERROR;
        }

        e = ngx_array_push(entries);
        if (e == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(e, sizeof(*e));
        e->old_id = LBK_PEER_NONE;

        if (ngx_lbkit_api_parse_entry(members, nm, NGX_LBKIT_PARSE_STATE, e,
                                      &err)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "lbkit: %V:%ui: corrupt lbkit_state file: %s "
                          "(fix or remove the file to start from the "
                          "configuration)", &api->state_file, line, err.text);
            return NGX_ERROR;
        }

        e->old_id = LBK_PEER_NONE;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_upstream_lbkit_api_restore(ngx_cycle_t *cycle,
    ngx_http_upstream_lbkit_main_conf_t *lmcf,
    ngx_http_upstream_lbkit_main_conf_t *old)
{
    uint32_t                              id;
    ngx_uint_t                            i, k;
    ngx_array_t                           entries;
    lbk_peer_info                         info;
    ngx_lbkit_api_t                      *oapi;
    ngx_lbkit_api_entry_t                *e;
    ngx_http_upstream_lbkit_srv_conf_t  **nu, *ncf, *ocf;

    nu = lmcf->upstreams.elts;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        ncf = nu[i];

        if (ngx_array_init(&entries, cycle->pool, 8,
                           sizeof(ngx_lbkit_api_entry_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ocf = ngx_http_upstream_lbkit_zone_previous_upstream(old, ncf);
        if (ocf != NULL && ocf->api == NULL) {
            ocf = NULL;
        }

        if (ocf != NULL) {
            oapi = ngx_lbkit_api_of(ocf);

            for (id = 0; id < oapi->capacity; id++) {
                if (!oapi->rec[id].used) {
                    continue;
                }
                ngx_memzero(&info, sizeof(info));
                info.version = LBK_PEER_INFO_VERSION;
                if (lbk_pool_peer_info(&info, ocf->pool, id) != 0) {
                    continue;
                }
                e = ngx_array_push(&entries);
                if (e == NULL) {
                    return NGX_ERROR;
                }
                ngx_lbkit_api_entry_of(oapi, id, &info, e);
            }

            for (k = 0; k < oapi->shm->ntombs; k++) {
                e = ngx_array_push(&entries);
                if (e == NULL) {
                    return NGX_ERROR;
                }
                ngx_memzero(e, sizeof(*e));
                e->name.data = oapi->tombs + k * LBK_NAME_MAX;
                e->name.len = ngx_strlen(e->name.data);
                e->deleted = 1;
                e->old_id = LBK_PEER_NONE;
            }

        } else if (ngx_lbkit_api_of(ncf)->state_file.len) {
            if (ngx_lbkit_api_load_state(cycle, ncf, &entries) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        e = entries.elts;
        for (k = 0; k < entries.nelts; k++) {
            if (ngx_lbkit_api_merge(cycle, ncf, &e[k],
                                    ocf ? ocf->pool : NULL)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        /* this process's table: the master forks the workers from it */
        ngx_http_upstream_lbkit_api_sync_changed(ncf);
    }

    return NGX_OK;
}


/* ---------------------------------------------------------------------- */
/* The state file                                                         */
/* ---------------------------------------------------------------------- */

static void
ngx_lbkit_api_duration(ngx_lbkit_json_out_t *j, const char *key, uint64_t ms)
{
    if (ms % 1000 == 0) {
        ngx_lbkit_json_printf(j, "\"%s\":\"%uLs\",", key, ms / 1000);
    } else {
        ngx_lbkit_json_printf(j, "\"%s\":\"%uLms\",", key, ms);
    }
}


/* The server object of Plus's upstream server configuration (ConfServer). */
static void
ngx_lbkit_api_conf_server(ngx_lbkit_json_out_t *j,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id,
    lbk_peer_info *info, ngx_uint_t state_file)
{
    ngx_lbkit_api_t         *api = ngx_lbkit_api_of(lscf);
    ngx_lbkit_api_record_t  *rec = &api->rec[id];

    ngx_lbkit_json_printf(j, "{");
    if (!state_file) {
        ngx_lbkit_json_printf(j, "\"id\":%uD,", id);
    }
    ngx_lbkit_json_printf(j, "\"server\":");
    ngx_lbkit_json_string(j, rec->server, ngx_strlen(rec->server));
    ngx_lbkit_json_printf(j, ",\"weight\":%uD,\"max_conns\":%uD,"
                          "\"max_fails\":%uD,", info->weight,
                          info->max_conns, info->max_fails);
    ngx_lbkit_api_duration(j, "fail_timeout", info->fail_timeout_ms);
    ngx_lbkit_api_duration(j, "slow_start", rec->slow_start_ms);
    ngx_lbkit_json_printf(j, "\"route\":");
    ngx_lbkit_json_string(j, rec->route, ngx_strlen(rec->route));
    ngx_lbkit_json_printf(j, ",\"backup\":%s,\"down\":%s,\"drain\":%s",
                          info->backup ? "true" : "false",
                          (info->admin_state == LBK_ADMIN_DOWN
                           || info->admin_state == LBK_ADMIN_MAINT)
                          ? "true" : "false",
                          info->admin_state == LBK_ADMIN_DRAIN
                          ? "true" : "false");

    if (state_file) {
        ngx_lbkit_json_printf(j, ",\"name\":");
        ngx_lbkit_json_string(j, rec->name, ngx_strlen(rec->name));
        ngx_lbkit_json_printf(j, ",\"address\":");
        ngx_lbkit_json_string(j, rec->address, ngx_strlen(rec->address));
        ngx_lbkit_json_printf(j, ",\"origin\":\"%s\",\"modified\":%s",
                              rec->origin == NGX_LBKIT_ORIGIN_API ? "api"
                              : rec->origin == NGX_LBKIT_ORIGIN_RESOLVE
                              ? "resolve" : "config",
                              rec->modified ? "true" : "false");
    }

    ngx_lbkit_json_printf(j, "}");
}


/* Writes @data to @path atomically: a new file beside it, fsync, rename,
   fsync of the directory. */
static ngx_int_t
ngx_lbkit_api_write_atomic(ngx_log_t *log, ngx_str_t *path, u_char *data,
    size_t len)
{
    int      fd, dfd;
    u_char   tmp[NGX_MAX_PATH], dir[NGX_MAX_PATH], *slash;
    size_t   done;
    ssize_t  n;

    if (path->len + 32 >= NGX_MAX_PATH) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "lbkit: state file name too long");
        return NGX_ERROR;
    }

    ngx_sprintf(tmp, "%V.tmp.%P%Z", path, ngx_pid);

    fd = open((char *) tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                            | O_CLOEXEC, 0600);
    if (fd == -1 && ngx_errno == NGX_EEXIST) {
        /* left by a process with this pid that died mid-write */
        (void) unlink((char *) tmp);
        fd = open((char *) tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                                | O_CLOEXEC, 0600);
    }

    if (fd == -1) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "lbkit: cannot create \"%s\"", tmp);
        return NGX_ERROR;
    }

    for (done = 0; done < len; done += n) {
        n = write(fd, data + done, len - done);
        if (n <= 0) {
            if (n == -1 && ngx_errno == NGX_EINTR) {
                n = 0;
                continue;
            }
            goto failed;
        }
    }

    if (fsync(fd) == -1) {
        goto failed;
    }

    if (close(fd) == -1) {
        fd = -1;
        goto failed;
    }

    fd = -1;

    if (rename((char *) tmp, (char *) path->data) == -1) {
        goto failed;
    }

    ngx_cpystrn(dir, path->data, path->len + 1);
    slash = (u_char *) ngx_strlchr(dir, dir + path->len, '/');
    while (slash && ngx_strlchr(slash + 1, dir + path->len, '/')) {
        slash = ngx_strlchr(slash + 1, dir + path->len, '/');
    }
    if (slash) {
        *(slash == dir ? slash + 1 : slash) = '\0';
        dfd = open((char *) dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd != -1) {
            (void) fsync(dfd);
            close(dfd);
        }
    }

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                  "lbkit: cannot write state file \"%V\"", path);
    if (fd != -1) {
        close(fd);
    }
    (void) unlink((char *) tmp);

    return NGX_ERROR;
}


/* Writes the upstream's membership to its `lbkit_state` file, if any.
   Called with the API mutex held, so writers do not interleave. */
static ngx_int_t
ngx_lbkit_api_save_state(ngx_log_t *log,
    ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    uint32_t               id;
    ngx_int_t              rc;
    ngx_uint_t             k;
    ngx_pool_t            *pool;
    lbk_peer_info          info;
    ngx_lbkit_api_t       *api;
    ngx_lbkit_json_out_t   j;
    u_char                *tomb;

    api = ngx_lbkit_api_of(lscf);

    if (api->state_file.len == 0) {
        return NGX_OK;
    }

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    ngx_lbkit_json_init(&j, pool, 4096);

    for (id = 0; id < api->capacity; id++) {
        if (!api->rec[id].used) {
            continue;
        }
        ngx_memzero(&info, sizeof(info));
        info.version = LBK_PEER_INFO_VERSION;
        if (lbk_pool_peer_info(&info, lscf->pool, id) != 0) {
            continue;
        }
        ngx_lbkit_api_conf_server(&j, lscf, id, &info, 1);
        ngx_lbkit_json_printf(&j, "\n");
    }

    for (k = 0; k < api->shm->ntombs; k++) {
        tomb = api->tombs + k * LBK_NAME_MAX;
        ngx_lbkit_json_printf(&j, "{\"server\":");
        ngx_lbkit_json_string(&j, tomb, ngx_strlen(tomb));
        ngx_lbkit_json_printf(&j, ",\"origin\":\"config\",\"deleted\":true}\n");
    }

    rc = j.failed ? NGX_ERROR
                  : ngx_lbkit_api_write_atomic(log, &api->state_file, j.start,
                                               j.pos - j.start);

    ngx_destroy_pool(pool);

    return rc;
}


/* ---------------------------------------------------------------------- */
/* The HTTP API                                                           */
/* ---------------------------------------------------------------------- */

static ngx_int_t
ngx_lbkit_api_error(ngx_lbkit_api_reply_t *reply, ngx_lbkit_api_error_t *err)
{
    ngx_lbkit_json_out_t  *j = &reply->out;

    j->pos = j->start;
    reply->status = err->status;

    ngx_lbkit_json_printf(j, "{\"error\":{\"status\":%ui,\"text\":",
                          err->status);
    ngx_lbkit_json_string(j, err->text, ngx_strlen(err->text));
    ngx_lbkit_json_printf(j, ",\"code\":\"%s\"},\"request_id\":"
                          "\"%08xD%08xD%08xD%08xD\",\"href\":\"https://nginx."
                          "org/en/docs/http/ngx_http_api_module.html\"}",
                          err->code, (uint32_t) ngx_random(),
                          (uint32_t) ngx_random(), (uint32_t) ngx_random(),
                          (uint32_t) ngx_random());

    return NGX_OK;
}


static ngx_int_t
ngx_lbkit_api_reply_error(ngx_lbkit_api_reply_t *reply, ngx_uint_t status,
    const char *code, const char *text)
{
    ngx_lbkit_api_error_t  err;

    (void) ngx_lbkit_api_fail(&err, status, code, "%s", text);

    return ngx_lbkit_api_error(reply, &err);
}


/* Wall-clock ISO 8601 time of pool clock time @t_us. */
static void
ngx_lbkit_api_iso_time(ngx_lbkit_json_out_t *j, const char *key,
    uint64_t t_us)
{
    uint64_t  now_us, wall_ms;
    ngx_tm_t  tm;

    now_us = ngx_http_upstream_lbkit_now_us();
    wall_ms = ngx_http_upstream_lbkit_now_ms();
    wall_ms -= now_us > t_us ? (now_us - t_us) / 1000 : 0;

    ngx_gmtime((time_t) (wall_ms / 1000), &tm);

    ngx_lbkit_json_printf(j, "\"%s\":\"%4d-%02d-%02dT%02d:%02d:%02d.%03uLZ\",",
                          key, tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                          tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                          wall_ms % 1000);
}


/*
 * Plus's state of a peer: the status page's state, except lbkit's own
 * "maint" (no requests, no checks), which Plus does not have and which is
 * reported as Plus's closest state, "down".
 */
static const char *
ngx_lbkit_api_state(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    lbk_peer_info *info)
{
    ngx_uint_t  state;

    state = ngx_http_upstream_lbkit_peer_state(lscf, info);

    if (state == LBK_STATE_MAINT) {
        state = LBK_STATE_DOWN;
    }

    return ngx_http_upstream_lbkit_state_names[state];
}


/* One peer in Plus's upstream statistics shape (HTTP Upstream Peer). */
static void
ngx_lbkit_api_peer(ngx_lbkit_json_out_t *j,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id, lbk_peer_info *info)
{
    ngx_lbkit_api_t         *api = ngx_lbkit_api_of(lscf);
    ngx_lbkit_api_record_t  *rec = &api->rec[id];

    ngx_lbkit_json_printf(j, "{\"id\":%uD,\"server\":", id);
    ngx_lbkit_json_string(j, rec->server, ngx_strlen(rec->server));
    ngx_lbkit_json_printf(j, ",\"name\":");
    ngx_lbkit_json_string(j, rec->address, ngx_strlen(rec->address));
    ngx_lbkit_json_printf(j, ",\"backup\":%s,\"weight\":%uD,\"state\":\"%s\","
                          "\"active\":%uD,",
                          info->backup ? "true" : "false", info->weight,
                          ngx_lbkit_api_state(lscf, info), info->active);

    if (info->max_conns) {
        ngx_lbkit_json_printf(j, "\"max_conns\":%uD,", info->max_conns);
    }

    ngx_lbkit_json_printf(j, "\"requests\":%uL,\"responses\":{\"1xx\":%uL,"
                          "\"2xx\":%uL,\"3xx\":%uL,\"4xx\":%uL,\"5xx\":%uL,"
                          "\"codes\":{},\"total\":%uL},\"sent\":%uL,"
                          "\"received\":%uL,\"fails\":%uL,\"unavail\":%uL,"
                          "\"health_checks\":{\"checks\":%uL,\"fails\":%uL,"
                          "\"unhealthy\":%uL",
                          info->requests, info->responses[0],
                          info->responses[1], info->responses[2],
                          info->responses[3], info->responses[4],
                          info->responses_total, info->bytes_sent,
                          info->bytes_received, info->failures, info->unavail,
                          info->checks, info->checks_failed, info->unhealthy);

    if (info->checks) {
        ngx_lbkit_json_printf(j, ",\"last_passed\":%s",
                              info->last_check_ok ? "true" : "false");
    }

    ngx_lbkit_json_printf(j, "},\"downtime\":%uL,", info->downtime_us / 1000);

    if (info->down_since_us) {
        ngx_lbkit_api_iso_time(j, "downstart", info->down_since_us);
    }

    if (info->last_selected_us) {
        ngx_lbkit_api_iso_time(j, "selected", info->last_selected_us);
    }

    if (info->header_time_avg_us) {
        ngx_lbkit_json_printf(j, "\"header_time\":%uL,",
                              info->header_time_avg_us / 1000);
    }

    if (info->response_time_avg_us) {
        ngx_lbkit_json_printf(j, "\"response_time\":%uL,",
                              info->response_time_avg_us / 1000);
    }

    ngx_lbkit_json_trim_comma(j);
    ngx_lbkit_json_printf(j, "}");
}


static ngx_int_t
ngx_lbkit_api_info(ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id,
    lbk_peer_info *info)
{
    ngx_memzero(info, sizeof(*info));
    info->version = LBK_PEER_INFO_VERSION;

    if (id >= ngx_lbkit_api_of(lscf)->capacity
        || !ngx_lbkit_api_of(lscf)->rec[id].used)
    {
        return NGX_DECLINED;
    }

    return lbk_pool_peer_info(info, lscf->pool, id) == 0 ? NGX_OK
                                                         : NGX_DECLINED;
}


static void
ngx_lbkit_api_upstream(ngx_lbkit_json_out_t *j,
    ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    uint32_t       id;
    lbk_peer_info  info;

    ngx_lbkit_json_printf(j, "{\"peers\":[");

    for (id = lbk_pool_next(lscf->pool, LBK_PEER_NONE); id != LBK_PEER_NONE;
         id = lbk_pool_next(lscf->pool, id))
    {
        if (ngx_lbkit_api_info(lscf, id, &info) == NGX_OK) {
            ngx_lbkit_api_peer(j, lscf, id, &info);
            ngx_lbkit_json_printf(j, ",");
        }
    }

    ngx_lbkit_json_trim_comma(j);
    ngx_lbkit_json_printf(j, "],\"keepalive\":0,\"zombies\":0,\"zone\":");
    ngx_lbkit_json_string(j, lscf->upstream->host.data,
                          lscf->upstream->host.len);
    ngx_lbkit_json_printf(j, ",\"lbkit\":{\"method\":");
    ngx_lbkit_json_string(j, lscf->method.data, lscf->method.len);
    ngx_lbkit_json_printf(j, ",\"capacity\":%ui}}",
                          ngx_lbkit_api_of(lscf)->capacity);
}


static void
ngx_lbkit_api_servers(ngx_lbkit_json_out_t *j,
    ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    uint32_t       id;
    lbk_peer_info  info;

    ngx_lbkit_json_printf(j, "[");

    for (id = lbk_pool_next(lscf->pool, LBK_PEER_NONE); id != LBK_PEER_NONE;
         id = lbk_pool_next(lscf->pool, id))
    {
        if (ngx_lbkit_api_info(lscf, id, &info) == NGX_OK) {
            ngx_lbkit_api_conf_server(j, lscf, id, &info, 0);
            ngx_lbkit_json_printf(j, ",");
        }
    }

    ngx_lbkit_json_trim_comma(j);
    ngx_lbkit_json_printf(j, "]");
}


/* The lbkit upstream named @name; NULL with *@is_static set when nginx has
   such an upstream that lbkit does not balance. */
static ngx_http_upstream_lbkit_srv_conf_t *
ngx_lbkit_api_find_upstream(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t *is_static)
{
    ngx_uint_t                             i;
    ngx_http_upstream_srv_conf_t         **uscfp;
    ngx_http_upstream_main_conf_t         *umcf;
    ngx_http_upstream_lbkit_srv_conf_t    *lscf;

    *is_static = 0;
    umcf = ngx_http_get_module_main_conf(r, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (uscfp[i]->srv_conf == NULL
            || uscfp[i]->host.len != name->len
            || ngx_strncmp(uscfp[i]->host.data, name->data, name->len) != 0)
        {
            continue;
        }

        lscf = ngx_http_conf_upstream_srv_conf(uscfp[i],
                                               ngx_http_upstream_lbkit_module);
        if (lscf->initialised && lscf->pool && lscf->api) {
            return lscf;
        }

        *is_static = 1;
    }

    return NULL;
}


static void
ngx_lbkit_api_lock(ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    ngx_shmtx_lock(&ngx_lbkit_api_of(lscf)->shpool->mutex);
}


static void
ngx_lbkit_api_unlock(ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    ngx_shmtx_unlock(&ngx_lbkit_api_of(lscf)->shpool->mutex);
}


/* Parses a request body as a server object. */
static ngx_int_t
ngx_lbkit_api_body(ngx_http_request_t *r, ngx_str_t *body, ngx_uint_t mode,
    ngx_lbkit_api_entry_t *e, ngx_lbkit_api_error_t *err)
{
    ngx_str_t                 nested;
    ngx_uint_t                n;
    const char               *why;
    ngx_lbkit_json_member_t   members[NGX_LBKIT_JSON_MAX_MEMBERS];

    ngx_memzero(e, sizeof(*e));
    e->old_id = LBK_PEER_NONE;

    if (body == NULL || body->len == 0) {
        return ngx_lbkit_api_fail(err, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                  "JsonError", "JSON error: empty body");
    }

    why = NULL;

    switch (ngx_lbkit_json_parse_flat(r->pool, body->data, body->len, members,
                                      &n, &nested, &why))
    {
    case NGX_OK:
        break;
    case NGX_DECLINED:
        return ngx_lbkit_api_fail(err, NGX_HTTP_BAD_REQUEST,
                                  "UpstreamConfFormatError",
                                  "nested object or list in \"%V\"", &nested);
    default:
        return ngx_lbkit_api_fail(err, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                  "JsonError", "JSON error: %s", why);
    }

    return ngx_lbkit_api_parse_entry(members, n, mode, e, err);
}


/* POST /{v}/http/upstreams/{u}/servers */
static ngx_int_t
ngx_lbkit_api_post(ngx_http_request_t *r, ngx_lbkit_api_reply_t *reply,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, ngx_str_t *body)
{
    u_char                  text[NGX_SOCKADDR_STRLEN + 1];
    uint32_t                id, first;
    ngx_url_t               u;
    ngx_uint_t              i, added, free_ids;
    lbk_peer_info           info;
    ngx_lbkit_api_t        *api;
    ngx_lbkit_api_entry_t   e;
    ngx_lbkit_api_error_t   err;

    api = ngx_lbkit_api_of(lscf);

    if (ngx_lbkit_api_body(r, body, NGX_LBKIT_PARSE_POST, &e, &err) != NGX_OK) {
        return ngx_lbkit_api_error(reply, &err);
    }

    if (e.backup && lscf->key != NULL) {
        return ngx_lbkit_api_reply_error(reply, NGX_HTTP_BAD_REQUEST,
                                         "UpstreamNoBackup",
                                         "hash methods take no backup servers");
    }

    /* a host name is resolved now, once (nginx's own `server` does so) */
    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = e.server;
    u.default_port = 80;

    if (ngx_parse_url(r->pool, &u) != NGX_OK || u.naddrs == 0) {
        (void) ngx_lbkit_api_fail(&err, NGX_HTTP_BAD_REQUEST,
                                  "UpstreamBadAddress",
                                  "\"%s\" while parsing \"%V\"",
                                  u.err ? u.err : "no address", &e.server);
        return ngx_lbkit_api_error(reply, &err);
    }

    ngx_lbkit_api_lock(lscf);

    /* all addresses fit, or none is added */
    free_ids = api->capacity - lbk_pool_count(lscf->pool);
    if (free_ids < u.naddrs) {
        ngx_lbkit_api_unlock(lscf);
        (void) ngx_lbkit_api_fail(&err, NGX_HTTP_BAD_REQUEST,
                                  "UpstreamOutOfMemory",
                                  "upstream \"%V\" memory exhausted: it has "
                                  "room for %ui servers (lbkit_capacity)",
                                  &lscf->upstream->host, api->capacity);
        return ngx_lbkit_api_error(reply, &err);
    }

    for (i = 0; i < u.naddrs; i++) {
        e.name = u.naddrs == 1 ? e.server : u.addrs[i].name;
        ngx_lbkit_api_copy_text(text, sizeof(text), &e.name);
        if (lbk_pool_find(&id, lscf->pool, (char *) text) == 0) {
            ngx_lbkit_api_unlock(lscf);
            (void) ngx_lbkit_api_fail(&err, NGX_HTTP_CONFLICT, "EntryExists",
                                      "server \"%V\" already exists",
                                      &e.name);
            return ngx_lbkit_api_error(reply, &err);
        }
    }

    first = LBK_PEER_NONE;
    added = 0;

    for (i = 0; i < u.naddrs; i++) {
        e.name = u.naddrs == 1 ? e.server : u.addrs[i].name;
        e.address = u.addrs[i].name;

        if (ngx_lbkit_api_add(lscf, &e, NGX_LBKIT_ORIGIN_API,
                              u.addrs[i].sockaddr, u.addrs[i].socklen, &id,
                              &err)
            != NGX_OK)
        {
            break;      /* cannot happen: room and names were checked */
        }

        if (first == LBK_PEER_NONE) {
            first = id;
        }
        added++;
    }

    if (added) {
        (void) ngx_lbkit_api_save_state(r->connection->log, lscf);
    }

    ngx_lbkit_api_unlock(lscf);

    if (added == 0) {
        return ngx_lbkit_api_error(reply, &err);
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "lbkit: upstream %V server %V added through the API "
                  "(id %uD, %ui address%s)", &lscf->upstream->host, &e.server,
                  first, added, added == 1 ? "" : "es");

    (void) ngx_lbkit_api_info(lscf, first, &info);
    reply->status = NGX_HTTP_CREATED;
    ngx_lbkit_api_conf_server(&reply->out, lscf, first, &info, 0);

    return NGX_OK;
}


/* PATCH /{v}/http/upstreams/{u}/servers/{id} */
static ngx_int_t
ngx_lbkit_api_patch(ngx_http_request_t *r, ngx_lbkit_api_reply_t *reply,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id, ngx_str_t *body)
{
    ngx_str_t               server;
    lbk_peer_info           info;
    ngx_lbkit_api_t        *api;
    ngx_lbkit_api_entry_t   e;
    ngx_lbkit_api_error_t   err;

    api = ngx_lbkit_api_of(lscf);

    if (ngx_lbkit_api_body(r, body, NGX_LBKIT_PARSE_PATCH, &e, &err) != NGX_OK)
    {
        return ngx_lbkit_api_error(reply, &err);
    }

    ngx_lbkit_api_lock(lscf);

    if (ngx_lbkit_api_info(lscf, id, &info) != NGX_OK) {
        ngx_lbkit_api_unlock(lscf);
        return ngx_lbkit_api_reply_error(reply, NGX_HTTP_NOT_FOUND,
                                         "UpstreamServerNotFound",
                                         "server not found");
    }

    server.data = api->rec[id].server;
    server.len = ngx_strlen(server.data);

    if (e.has_server
        && (e.server.len != server.len
            || ngx_strncmp(e.server.data, server.data, server.len) != 0))
    {
        ngx_lbkit_api_unlock(lscf);
        (void) ngx_lbkit_api_fail(&err, NGX_HTTP_BAD_REQUEST,
                                  "UpstreamServerImmutable",
                                  "server \"%uD\" address is immutable", id);
        return ngx_lbkit_api_error(reply, &err);
    }

    if ((e.has_backup && e.backup != info.backup)
        || (e.old_id != LBK_PEER_NONE && e.old_id != id))
    {
        ngx_lbkit_api_unlock(lscf);
        return ngx_lbkit_api_reply_error(reply, NGX_HTTP_BAD_REQUEST,
                                         "UpstreamConfFormatError",
                                         "\"id\" and \"backup\" cannot be "
                                         "changed");
    }

    if (e.has_down || e.has_drain) {
        /* fields not given keep their value: down wins over drain */
        if (!e.has_down) {
            e.down = (info.admin_state == LBK_ADMIN_DOWN
                      || info.admin_state == LBK_ADMIN_MAINT);
        }
        if (!e.has_drain) {
            e.drain = (info.admin_state == LBK_ADMIN_DRAIN);
        }
        e.admin_state = e.down ? LBK_ADMIN_DOWN
                               : e.drain ? LBK_ADMIN_DRAIN : LBK_ADMIN_UP;
    }

    ngx_lbkit_api_apply(lscf, id, &e, &info);
    ngx_lbkit_api_mark_modified(api, id, &e);
    (void) ngx_lbkit_api_save_state(r->connection->log, lscf);

    ngx_lbkit_api_unlock(lscf);

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "lbkit: upstream %V server %V changed through the API",
                  &lscf->upstream->host, &server);

    (void) ngx_lbkit_api_info(lscf, id, &info);
    ngx_lbkit_api_conf_server(&reply->out, lscf, id, &info, 0);

    return NGX_OK;
}


/* DELETE /{v}/http/upstreams/{u}/servers/{id} */
static ngx_int_t
ngx_lbkit_api_delete(ngx_http_request_t *r, ngx_lbkit_api_reply_t *reply,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id)
{
    u_char          name[LBK_NAME_MAX];
    lbk_peer_info   info;

    ngx_lbkit_api_lock(lscf);

    if (ngx_lbkit_api_info(lscf, id, &info) != NGX_OK) {
        ngx_lbkit_api_unlock(lscf);
        return ngx_lbkit_api_reply_error(reply, NGX_HTTP_NOT_FOUND,
                                         "UpstreamServerNotFound",
                                         "server not found");
    }

    ngx_cpystrn(name, ngx_lbkit_api_of(lscf)->rec[id].server, sizeof(name));
    ngx_lbkit_api_remove(lscf, id);
    (void) ngx_lbkit_api_save_state(r->connection->log, lscf);

    ngx_lbkit_api_unlock(lscf);

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "lbkit: upstream %V server %s (id %uD) deleted through the "
                  "API", &lscf->upstream->host, name, id);

    ngx_lbkit_api_servers(&reply->out, lscf);

    return NGX_OK;
}


static ngx_int_t
ngx_lbkit_api_seg_is(ngx_str_t *seg, const char *name)
{
    return seg->len == ngx_strlen(name)
           && ngx_strncmp(seg->data, name, seg->len) == 0;
}


/* Endpoints of Plus's API that open-source nginx cannot fill: an empty
   object (a name under them: not found, with Plus's code). */
static const struct {
    const char  *name;
    const char  *not_found;
} ngx_lbkit_api_empty_http[] = {
    { "server_zones",   "ServerZoneNotFound" },
    { "location_zones", "LocationZoneNotFound" },
    { "caches",         "CacheNotFound" },
    { "limit_conns",    "LimitConnNotFound" },
    { "limit_reqs",     "LimitReqNotFound" },
    { "keyvals",        "KeyvalNotFound" },
    { NULL, NULL }
};


#define NGX_LBKIT_GET     1
#define NGX_LBKIT_WRITE   2     /* POST, PATCH, DELETE */

/*
 * Routes @segs (the path after the location, split at '/') with the
 * request's method; fills @reply.  @body is the request body (POST, PATCH).
 */
static ngx_int_t
ngx_lbkit_api_route(ngx_http_request_t *r, ngx_lbkit_api_reply_t *reply,
    ngx_str_t *segs, ngx_uint_t n, ngx_str_t *body)
{
    ngx_int_t                             v;
    ngx_uint_t                            i, method, is_static;
    ngx_lbkit_json_out_t                 *j;
    ngx_http_upstream_lbkit_srv_conf_t   *lscf, **lscfp;
    ngx_http_upstream_lbkit_main_conf_t  *lmcf;

    j = &reply->out;
    reply->status = NGX_HTTP_OK;
    method = r->method;

#define ONLY(allowed)                                                        \
    if (!(method & (allowed))) {                                             \
        return ngx_lbkit_api_reply_error(reply, NGX_HTTP_NOT_ALLOWED,        \
                                         "MethodNotSupported",               \
                                         "method not supported");            \
    }

    if (n == 0) {
        ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD);
        ngx_lbkit_json_printf(j, "[");
        for (i = 1; i <= NGX_LBKIT_API_VERSIONS; i++) {
            ngx_lbkit_json_printf(j, "%ui,", i);
        }
        ngx_lbkit_json_trim_comma(j);
        ngx_lbkit_json_printf(j, "]");
        return NGX_OK;
    }

    v = ngx_atoi(segs[0].data, segs[0].len);
    if (v < 1 || v > NGX_LBKIT_API_VERSIONS) {
        return ngx_lbkit_api_reply_error(reply, NGX_HTTP_NOT_FOUND,
                                         "UnknownVersion", "unknown version");
    }

    if (n == 1) {
        ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD);
        ngx_lbkit_json_printf(j, "[\"nginx\",\"processes\",\"connections\","
                              "\"slabs\",\"http\",\"stream\",\"resolvers\","
                              "\"ssl\",\"workers\"]");
        return NGX_OK;
    }

    if (n == 2 && ngx_lbkit_api_seg_is(&segs[1], "nginx")) {
        u_char     text[NGX_SOCKADDR_STRLEN];
        ngx_str_t  local;

        local.data = text;
        local.len = NGX_SOCKADDR_STRLEN;
        if (ngx_connection_local_sockaddr(r->connection, &local, 0)
            != NGX_OK)
        {
            local.len = 0;
        }

        ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD);
        ngx_lbkit_json_printf(j, "{\"version\":\"%s\",\"build\":\"\","
                              "\"address\":", NGINX_VERSION);
        ngx_lbkit_json_string(j, local.data, local.len);
        ngx_lbkit_json_printf(j, ",\"generation\":0,\"load_timestamp\":");
        ngx_lbkit_json_string(j, ngx_cached_http_log_iso8601.data,
                              ngx_cached_http_log_iso8601.len);
        ngx_lbkit_json_printf(j, ",\"timestamp\":");
        ngx_lbkit_json_string(j, ngx_cached_http_log_iso8601.data,
                              ngx_cached_http_log_iso8601.len);
        ngx_lbkit_json_printf(j, ",\"pid\":%P,\"ppid\":%P}", ngx_pid,
                              ngx_parent);
        return NGX_OK;
    }

    if (n == 2 && (ngx_lbkit_api_seg_is(&segs[1], "processes")
                   || ngx_lbkit_api_seg_is(&segs[1], "connections")))
    {
        ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE);
        if (method == NGX_HTTP_DELETE) {
            reply->status = NGX_HTTP_NO_CONTENT;
            return NGX_OK;
        }
        if (segs[1].data[0] == 'p') {
            ngx_lbkit_json_printf(j, "{\"respawned\":0}");
            return NGX_OK;
        }
#if (NGX_STAT_STUB)
        ngx_lbkit_json_printf(j, "{\"accepted\":%uA,\"dropped\":%uA,"
                              "\"active\":%uA,\"idle\":%uA}",
                              *ngx_stat_accepted,
                              *ngx_stat_accepted - *ngx_stat_handled,
                              *ngx_stat_active - *ngx_stat_waiting,
                              *ngx_stat_waiting);
#else
        ngx_lbkit_json_printf(j, "{}");
#endif
        return NGX_OK;
    }

    if (ngx_lbkit_api_seg_is(&segs[1], "slabs")
        || ngx_lbkit_api_seg_is(&segs[1], "resolvers")
        || ngx_lbkit_api_seg_is(&segs[1], "ssl")
        || ngx_lbkit_api_seg_is(&segs[1], "workers"))
    {
        if (n == 2) {
            ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD);
            ngx_lbkit_json_printf(j, segs[1].data[0] == 'w' ? "[]" : "{}");
            return NGX_OK;
        }
        goto not_found;
    }

    if (ngx_lbkit_api_seg_is(&segs[1], "stream")) {
        ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD);
        if (n == 2) {
            ngx_lbkit_json_printf(j, "[\"server_zones\",\"limit_conns\","
                                  "\"keyvals\",\"upstreams\"]");
            return NGX_OK;
        }
        if (n == 3) {
            ngx_lbkit_json_printf(j, "{}");
            return NGX_OK;
        }
        goto not_found;
    }

    if (!ngx_lbkit_api_seg_is(&segs[1], "http")) {
        goto not_found;
    }

    if (n == 2) {
        ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD);
        ngx_lbkit_json_printf(j, "[\"requests\",\"server_zones\","
                              "\"location_zones\",\"caches\","
                              "\"limit_conns\",\"limit_reqs\",\"keyvals\","
                              "\"upstreams\"]");
        return NGX_OK;
    }

    if (ngx_lbkit_api_seg_is(&segs[2], "requests") && n == 3) {
        ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE);
        if (method == NGX_HTTP_DELETE) {
            reply->status = NGX_HTTP_NO_CONTENT;
            return NGX_OK;
        }
#if (NGX_STAT_STUB)
        ngx_lbkit_json_printf(j, "{\"total\":%uA,\"current\":%uA}",
                              *ngx_stat_requests,
                              *ngx_stat_reading + *ngx_stat_writing);
#else
        ngx_lbkit_json_printf(j, "{}");
#endif
        return NGX_OK;
    }

    for (i = 0; ngx_lbkit_api_empty_http[i].name; i++) {
        if (ngx_lbkit_api_seg_is(&segs[2], ngx_lbkit_api_empty_http[i].name)) {
            if (n == 3) {
                ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD);
                ngx_lbkit_json_printf(j, "{}");
                return NGX_OK;
            }
            return ngx_lbkit_api_reply_error(reply, NGX_HTTP_NOT_FOUND,
                                   ngx_lbkit_api_empty_http[i].not_found,
                                   "not found");
        }
    }

    if (!ngx_lbkit_api_seg_is(&segs[2], "upstreams")) {
        goto not_found;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_upstream_lbkit_module);

    if (n == 3) {
        ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD);
        ngx_lbkit_json_printf(j, "{");
        lscfp = lmcf->upstreams.elts;
        for (i = 0; i < lmcf->upstreams.nelts; i++) {
            if (lscfp[i]->pool == NULL || lscfp[i]->api == NULL) {
                continue;
            }
            ngx_lbkit_json_string(j, lscfp[i]->upstream->host.data,
                                  lscfp[i]->upstream->host.len);
            ngx_lbkit_json_printf(j, ":");
            ngx_lbkit_api_upstream(j, lscfp[i]);
            ngx_lbkit_json_printf(j, ",");
        }
        ngx_lbkit_json_trim_comma(j);
        ngx_lbkit_json_printf(j, "}");
        return NGX_OK;
    }

    lscf = ngx_lbkit_api_find_upstream(r, &segs[3], &is_static);
    if (lscf == NULL) {
        return is_static
               ? ngx_lbkit_api_reply_error(reply, NGX_HTTP_BAD_REQUEST,
                                           "UpstreamStatic",
                                           "upstream is static (not "
                                           "balanced by lbkit)")
               : ngx_lbkit_api_reply_error(reply, NGX_HTTP_NOT_FOUND,
                                           "UpstreamNotFound",
                                           "upstream not found");
    }

    ngx_http_upstream_lbkit_api_sync(lscf);

    if (n == 4) {
        ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE);
        if (method == NGX_HTTP_DELETE) {
            uint32_t  id;

            for (id = lbk_pool_next(lscf->pool, LBK_PEER_NONE);
                 id != LBK_PEER_NONE; id = lbk_pool_next(lscf->pool, id))
            {
                (void) lbk_pool_peer_reset_stats(lscf->pool, id);
            }
            reply->status = NGX_HTTP_NO_CONTENT;
            return NGX_OK;
        }
        ngx_lbkit_api_upstream(j, lscf);
        return NGX_OK;
    }

    if (!ngx_lbkit_api_seg_is(&segs[4], "servers") || n > 6) {
        goto not_found;
    }

    if (n == 5) {
        ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST);
        if (method == NGX_HTTP_POST) {
            return ngx_lbkit_api_post(r, reply, lscf, body);
        }
        ngx_lbkit_api_servers(j, lscf);
        return NGX_OK;
    }

    ONLY(NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PATCH|NGX_HTTP_DELETE);

    v = ngx_atoi(segs[5].data, segs[5].len);
    if (v == NGX_ERROR || segs[5].len > 9) {
        return ngx_lbkit_api_reply_error(reply, NGX_HTTP_BAD_REQUEST,
                                         "UpstreamBadServerId",
                                         "invalid server ID");
    }

    if (method == NGX_HTTP_PATCH) {
        return ngx_lbkit_api_patch(r, reply, lscf, (uint32_t) v, body);
    }

    if (method == NGX_HTTP_DELETE) {
        return ngx_lbkit_api_delete(r, reply, lscf, (uint32_t) v);
    }

    {
        lbk_peer_info  info;

        if (ngx_lbkit_api_info(lscf, (uint32_t) v, &info) != NGX_OK) {
            return ngx_lbkit_api_reply_error(reply, NGX_HTTP_NOT_FOUND,
                                             "UpstreamServerNotFound",
                                             "server not found");
        }
        ngx_lbkit_api_conf_server(j, lscf, (uint32_t) v, &info, 0);
    }

    return NGX_OK;

#undef ONLY

not_found:

    return ngx_lbkit_api_reply_error(reply, NGX_HTTP_NOT_FOUND, "PathNotFound",
                                     "path not found");
}


/* Runs the request (body read if it has one) and sends the answer. */
static ngx_int_t
ngx_lbkit_api_run(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_str_t                  path, segs[NGX_LBKIT_API_MAX_SEGS];
    ngx_uint_t                 n;
    ngx_chain_t                out;
    ngx_lbkit_api_reply_t      reply;
    ngx_lbkit_api_loc_conf_t  *alcf;
    ngx_http_core_loc_conf_t  *clcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_upstream_lbkit_api_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    ngx_lbkit_json_init(&reply.out, r->pool, 4096);
    reply.status = NGX_HTTP_OK;

    /* the path after the location's prefix, split at '/' */
    path = r->uri;
    if (
#if (NGX_PCRE)
        clcf->regex == NULL &&
#endif
        path.len >= clcf->name.len
        && ngx_strncmp(path.data, clcf->name.data, clcf->name.len) == 0)
    {
        path.data += clcf->name.len;
        path.len -= clcf->name.len;
    }

    n = 0;
    p = path.data;

    while (p < path.data + path.len) {
        u_char  *s;

        while (p < path.data + path.len && *p == '/') {
            p++;
        }
        if (p >= path.data + path.len) {
            break;
        }
        s = p;
        while (p < path.data + path.len && *p != '/') {
            p++;
        }
        if (n == NGX_LBKIT_API_MAX_SEGS) {
            n++;
            break;
        }
        segs[n].data = s;
        segs[n].len = p - s;
        n++;
    }

    if (n > NGX_LBKIT_API_MAX_SEGS) {
        (void) ngx_lbkit_api_reply_error(&reply, NGX_HTTP_NOT_FOUND,
                                         "PathNotFound", "path not found");

    } else if ((r->method & (NGX_HTTP_POST|NGX_HTTP_PATCH|NGX_HTTP_DELETE))
               && !alcf->write)
    {
        (void) ngx_lbkit_api_reply_error(&reply, NGX_HTTP_NOT_ALLOWED,
                                         "MethodDisabled", "method disabled");

    } else {
        (void) ngx_lbkit_api_route(r, &reply, segs, n, body);
    }

    if (reply.out.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = reply.status;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (reply.status == NGX_HTTP_NO_CONTENT) {
        r->header_only = 1;
        r->headers_out.content_length_n = 0;
        return ngx_http_send_header(r);
    }

    r->headers_out.content_length_n = reply.out.pos - reply.out.start;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = reply.out.start;
    b->last = reply.out.pos;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static void
ngx_lbkit_api_body_handler(ngx_http_request_t *r)
{
    size_t        len;
    u_char       *p;
    ngx_str_t     body;
    ngx_chain_t  *cl;

    ngx_str_null(&body);

    if (r->request_body == NULL || r->request_body->temp_file) {
        /* larger than client_body_buffer_size */
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        return;
    }

    len = 0;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    if (len > NGX_LBKIT_API_MAX_BODY) {
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        return;
    }

    if (len) {
        body.data = ngx_pnalloc(r->pool, len);
        if (body.data == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
        p = body.data;
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
        body.len = len;
    }

    ngx_http_finalize_request(r, ngx_lbkit_api_run(r, &body));
}


static ngx_int_t
ngx_http_upstream_lbkit_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_lbkit_api_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_upstream_lbkit_api_module);

    if ((r->method & (NGX_HTTP_POST|NGX_HTTP_PATCH)) && alcf->write) {
        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r, ngx_lbkit_api_body_handler);
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_lbkit_api_run(r, NULL);
}


#if (NGX_HTTP_LBKIT_RESOLVE)

/*
 * Makes the pool's resolved servers those nginx resolved into the upstream's
 * zone: an address that appeared is added (as its template server says), one
 * that vanished is removed (no new requests; requests in flight finish).
 * One worker does it under the API mutex; the others find the work done.
 */
static void
ngx_lbkit_api_follow_resolved(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_lbkit_api_t *api)
{
    uint32_t                        id;
    ngx_uint_t                      config, backup;
    u_char                          name[LBK_NAME_MAX];
    ngx_lbkit_api_entry_t           e;
    ngx_lbkit_api_error_t           err;
    ngx_http_upstream_rr_peer_t    *peer;
    ngx_http_upstream_rr_peers_t   *peers, *list;

    peers = lscf->upstream->peer.data;

    ngx_shmtx_lock(&api->shpool->mutex);

    config = *api->gen.resolved;

    if (api->shm->resolved == config) {
        ngx_shmtx_unlock(&api->shpool->mutex);
        api->gen.resolved_seen = config;
        return;
    }

    ngx_memzero(api->present, api->capacity);

    for (list = peers, backup = 0; list; list = list->next, backup = 1) {
        ngx_http_upstream_rr_peers_rlock(list);

        for (peer = list->peer; peer; peer = peer->next) {
            if (peer->host == NULL || peer->zombie
                || peer->name.len >= LBK_NAME_MAX)
            {
                continue;
            }

            ngx_memcpy(name, peer->name.data, peer->name.len);
            name[peer->name.len] = '\0';

            if (lbk_pool_find(&id, lscf->pool, (char *) name) == 0) {
                if (id < api->capacity) {
                    api->present[id] = 1;
                }
                continue;
            }

            ngx_memzero(&e, sizeof(e));
            e.name = peer->name;
            e.address = peer->name;
            e.server = peer->server;
            e.weight = (uint32_t) peer->weight;
            e.max_conns = (uint32_t) peer->max_conns;
            e.max_fails = (uint32_t) peer->max_fails;
            e.fail_timeout_ms = (uint32_t) peer->fail_timeout * 1000;
            e.has_weight = e.has_max_conns = e.has_max_fails = 1;
            e.has_fail_timeout = 1;
            e.backup = (int) backup;
            e.admin_state = peer->down ? LBK_ADMIN_DOWN : LBK_ADMIN_UP;

            if (ngx_lbkit_api_add(lscf, &e, NGX_LBKIT_ORIGIN_RESOLVE,
                                  peer->sockaddr, peer->socklen, &id, &err)
                != NGX_OK)
            {
                ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                              "lbkit: upstream %V: resolved address %V of "
                              "%V not added: %s", &lscf->upstream->host,
                              &peer->name, &peer->server, err.text);
                continue;
            }

            api->present[id] = 1;
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "lbkit: upstream %V server %V resolved to %V "
                          "(id %uD)", &lscf->upstream->host, &peer->server,
                          &peer->name, id);
        }

        ngx_http_upstream_rr_peers_unlock(list);
    }

    for (id = 0; id < api->capacity; id++) {
        if (api->rec[id].used && !api->present[id]
            && api->rec[id].origin == NGX_LBKIT_ORIGIN_RESOLVE)
        {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "lbkit: upstream %V server %s no longer resolves to "
                          "%s: removed", &lscf->upstream->host,
                          api->rec[id].server, api->rec[id].address);
            ngx_lbkit_api_remove(lscf, id);
        }
    }

    api->shm->resolved = config;

    ngx_shmtx_unlock(&api->shpool->mutex);

    api->gen.resolved_seen = config;
}


/* In each worker: follows the zone's resolved addresses from now on. */
static ngx_int_t
ngx_http_upstream_lbkit_api_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                             i;
    ngx_lbkit_api_t                       *api;
    ngx_http_upstream_rr_peers_t          *peers;
    ngx_http_upstream_lbkit_srv_conf_t   **lscfp;
    ngx_http_upstream_lbkit_main_conf_t   *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_upstream_lbkit_module);
    if (lmcf == NULL) {
        return NGX_OK;
    }

    lscfp = lmcf->upstreams.elts;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        api = lscfp[i]->api;
        peers = lscfp[i]->upstream->peer.data;

        if (api == NULL || lscfp[i]->upstream->shm_zone == NULL
            || peers == NULL || peers->config == NULL)
        {
            continue;
        }

        api->gen.resolved = peers->config;
        api->gen.resolved_seen = *peers->config - 1;
    }

    return NGX_OK;
}

#endif
