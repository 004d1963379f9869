/*
 * ngx_http_upstream_lbkit_module.c - the module's core: the `lbkit`
 * directive, the guard against other balancing directives in an lbkit
 * upstream, the upstream's peer table (init_upstream) and the balancer
 * (get/free on liblbkit pools).  The shared zone that holds every lbkit
 * upstream's pool, the in-flight ledger and the copy of peer state across
 * reloads are in ngx_http_upstream_lbkit_zone.c.
 *
 * Design notes (see docs/ARCHITECTURE.md, "Pitfalls"):
 *  - us->peer.data stays nginx's round-robin peer list (init_upstream calls
 *    ngx_http_upstream_init_round_robin first), so the `zone` directive,
 *    which copies that list into its own shared memory, keeps working.
 *    lbkit's state hangs off the module's srv conf.
 *  - `keepalive` captures the balancer's init_upstream when it is parsed, so
 *    `lbkit` must come before it; the directive refuses to follow another
 *    balancer.
 *  - The balancer counts each request it picks up, and each it frees down,
 *    in its worker's in-flight ledger entry (lscf->ledger_mine), so that a
 *    worker started after this one dies can release them.
 */

#include "ngx_http_upstream_lbkit.h"
#include "ngx_http_upstream_lbkit_api.h"

#include <time.h>


/* One request's balancer state (u->peer.data). */
typedef struct {
    ngx_http_upstream_lbkit_srv_conf_t  *conf;
    ngx_http_request_t                  *request;
    ngx_str_t                            key;        /* hash methods */
    uint32_t                             current;    /* LBK_PEER_NONE */
    uint64_t                             started_us; /* pick time */
    uint64_t                            *tried;      /* bitmap by lbk id */
    uint64_t                             tried_one;  /* storage, 1 word */
} ngx_http_upstream_lbkit_peer_data_t;


static void *ngx_http_upstream_lbkit_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_upstream_lbkit_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_upstream_lbkit_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_upstream_lbkit_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_upstream_lbkit_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_upstream_lbkit_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_upstream_lbkit_init_process(ngx_cycle_t *cycle);
static void ngx_http_upstream_lbkit_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_upstream_lbkit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_uint_t ngx_http_upstream_lbkit_chains(ngx_str_t *name);
static ngx_int_t ngx_http_upstream_init_lbkit(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_upstream_init_lbkit_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_upstream_get_lbkit_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_upstream_free_lbkit_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_upstream_lbkit_set_session(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_upstream_lbkit_save_session(ngx_peer_connection_t *pc,
    void *data);
#endif


static ngx_command_t  ngx_http_upstream_lbkit_commands[] = {

    { ngx_string("lbkit"),
      NGX_HTTP_UPS_CONF|NGX_CONF_1MORE,
      ngx_http_upstream_lbkit,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lbkit_check"),
      NGX_HTTP_UPS_CONF|NGX_CONF_ANY,
      ngx_http_upstream_lbkit_check_directive,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lbkit_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_upstream_lbkit_status_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upstream_lbkit_module_ctx = {
    ngx_http_upstream_lbkit_preconfiguration,  /* preconfiguration */
    ngx_http_upstream_lbkit_postconfiguration, /* postconfiguration */

    ngx_http_upstream_lbkit_create_main_conf,  /* create main configuration */
    NULL,                                      /* init main configuration */

    ngx_http_upstream_lbkit_create_srv_conf,   /* create server configuration */
    NULL,                                      /* merge server configuration */

    ngx_http_upstream_lbkit_create_loc_conf,   /* create location configuration */
    ngx_http_upstream_lbkit_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_upstream_lbkit_module = {
    NGX_MODULE_V1,
    &ngx_http_upstream_lbkit_module_ctx,       /* module context */
    ngx_http_upstream_lbkit_commands,          /* module directives */
    NGX_HTTP_MODULE,                           /* module type */
    NULL,                                      /* init master */
    NULL,                                      /* init module */
    ngx_http_upstream_lbkit_init_process,      /* init process */
    NULL,                                      /* init thread */
    NULL,                                      /* exit thread */
    ngx_http_upstream_lbkit_exit_process,      /* exit process */
    NULL,                                      /* exit master */
    NGX_MODULE_V1_PADDING
};


/* ---------------------------------------------------------------------- */
/* Configuration                                                          */
/* ---------------------------------------------------------------------- */

static void *
ngx_http_upstream_lbkit_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_upstream_lbkit_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_lbkit_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&lmcf->upstreams, cf->pool, 4,
                       sizeof(ngx_http_upstream_lbkit_srv_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return lmcf;
}


static void *
ngx_http_upstream_lbkit_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_upstream_lbkit_srv_conf_t  *lscf;
    lbk_check_options                    defaults = LBK_CHECK_OPTIONS_INIT;

    lscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_lbkit_srv_conf_t));
    if (lscf == NULL) {
        return NULL;
    }

    lscf->check.opts = defaults;
    lscf->hash_kind = LBK_HASH_MODULO;

    return lscf;
}


static void *
ngx_http_upstream_lbkit_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_upstream_lbkit_loc_conf_t  *llcf;

    llcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_lbkit_loc_conf_t));
    if (llcf == NULL) {
        return NULL;
    }

    llcf->status_format = NGX_CONF_UNSET_UINT;

    return llcf;
}


static char *
ngx_http_upstream_lbkit_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_upstream_lbkit_loc_conf_t  *prev = parent;
    ngx_http_upstream_lbkit_loc_conf_t  *conf = child;

    ngx_conf_merge_uint_value(conf->status_format, prev->status_format,
                              NGX_HTTP_LBKIT_STATUS_JSON);

    return NGX_CONF_OK;
}


/* Balancing methods `lbkit` accepts, and which take which parameters. */
typedef enum {
    NGX_HTTP_LBKIT_ARGS_NONE = 0,
    NGX_HTTP_LBKIT_ARGS_EWMA,
    NGX_HTTP_LBKIT_ARGS_HASH
} ngx_http_upstream_lbkit_args_e;

typedef struct {
    ngx_str_t                        name;
    ngx_http_upstream_lbkit_args_e   args;
} ngx_http_upstream_lbkit_method_t;

static ngx_http_upstream_lbkit_method_t  ngx_http_upstream_lbkit_methods[] = {
    { ngx_string("round_robin"), NGX_HTTP_LBKIT_ARGS_NONE },
    { ngx_string("least_conn"), NGX_HTTP_LBKIT_ARGS_NONE },
    { ngx_string("random"), NGX_HTTP_LBKIT_ARGS_NONE },
    { ngx_string("p2c"), NGX_HTTP_LBKIT_ARGS_NONE },
    { ngx_string("peak_ewma"), NGX_HTTP_LBKIT_ARGS_EWMA },
    { ngx_string("fastest"), NGX_HTTP_LBKIT_ARGS_NONE },
    { ngx_string("first"), NGX_HTTP_LBKIT_ARGS_NONE },
    { ngx_string("hash"), NGX_HTTP_LBKIT_ARGS_HASH },
    { ngx_null_string, 0 }
};


static char *
ngx_http_upstream_lbkit_bad_param(ngx_conf_t *cf, ngx_str_t *param,
    ngx_str_t *method, const char *expected)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" of \"lbkit %V\"%s%s",
                       param, method, expected ? ": expected " : "",
                       expected ? expected : "");
    return NGX_CONF_ERROR;
}


/*
 * lbkit METHOD [ARGS]:
 *   round_robin | least_conn | random | p2c | fastest | first
 *   peak_ewma [decay=TIME]
 *   hash KEY [consistent | maglev] [balance_factor=PERCENT]
 */
static char *
ngx_http_upstream_lbkit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upstream_lbkit_srv_conf_t  *lscf = conf;

    ngx_int_t                            n;
    ngx_str_t                           *value, s;
    ngx_uint_t                           i, first_arg;
    ngx_http_upstream_srv_conf_t        *uscf;
    ngx_http_upstream_lbkit_method_t    *m;
    ngx_http_compile_complex_value_t     ccv;

    if (lscf->method.len) {
        return "is duplicate";
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        if (lscf->other_name.len) {
            if (ngx_http_upstream_lbkit_chains(&lscf->other_name)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"lbkit\" must come before \"%V\" "
                                   "(%V:%ui) in upstream \"%V\"",
                                   &lscf->other_name, &lscf->other_file,
                                   lscf->other_line, &uscf->host);
                return NGX_CONF_ERROR;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"lbkit\" cannot follow \"%V\" (%V:%ui) in "
                               "upstream \"%V\": an upstream has one "
                               "balancing method, remove one of them",
                               &lscf->other_name, &lscf->other_file,
                               lscf->other_line, &uscf->host);
            return NGX_CONF_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"lbkit\" must come before \"keepalive\" and "
                           "cannot follow another balancing method (\"hash\", "
                           "\"least_conn\", \"random\", ...) in upstream "
                           "\"%V\"", &uscf->host);
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (m = ngx_http_upstream_lbkit_methods; m->name.len; m++) {
        if (m->name.len == value[1].len
            && ngx_strncmp(m->name.data, value[1].data, value[1].len) == 0)
        {
            break;
        }
    }

    if (m->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid balancing method \"%V\" in \"lbkit\": "
                           "expected round_robin, least_conn, random, p2c, "
                           "peak_ewma, fastest, first or hash", &value[1]);
        return NGX_CONF_ERROR;
    }

    first_arg = 2;

    if (m->args == NGX_HTTP_LBKIT_ARGS_HASH) {
        if (cf->args->nelts < 3) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"lbkit hash\" needs a KEY, for example "
                               "\"lbkit hash $arg_k consistent;\"");
            return NGX_CONF_ERROR;
        }

        lscf->key = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (lscf->key == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
        ccv.cf = cf;
        ccv.value = &value[2];
        ccv.complex_value = lscf->key;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        lscf->hash_kind = LBK_HASH_MODULO;
        first_arg = 3;
    }

    for (i = first_arg; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "suspect=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            n = (s.len == 3 && ngx_strncmp(s.data, "off", 3) == 0)
                ? 0 : ngx_parse_time(&s, 0);
            if (n == NGX_ERROR || (n == 0 && s.len != 3)) {
                return ngx_http_upstream_lbkit_bad_param(cf, &value[i],
                           &value[1], "a time above 0, such as suspect=50ms, "
                           "or suspect=off");
            }

            lscf->suspect = (ngx_msec_t) n;
            lscf->suspect_set = 1;
            continue;
        }

        if (m->args == NGX_HTTP_LBKIT_ARGS_EWMA
            && ngx_strncmp(value[i].data, "decay=", 6) == 0)
        {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            n = ngx_parse_time(&s, 0);
            if (n == NGX_ERROR || n == 0) {
                return ngx_http_upstream_lbkit_bad_param(cf, &value[i],
                           &value[1], "a time above 0, such as decay=10s");
            }

            lscf->ewma_decay = (ngx_msec_t) n;
            continue;
        }

        if (m->args == NGX_HTTP_LBKIT_ARGS_HASH) {

            if (ngx_strcmp(value[i].data, "consistent") == 0) {
                lscf->hash_kind = LBK_HASH_KETAMA;
                continue;
            }

            if (ngx_strcmp(value[i].data, "maglev") == 0) {
                lscf->hash_kind = LBK_HASH_MAGLEV;
                continue;
            }

            if (ngx_strncmp(value[i].data, "balance_factor=", 15) == 0) {
                n = ngx_atoi(value[i].data + 15, value[i].len - 15);
                if (n == NGX_ERROR || n <= 100 || n > 100000) {
                    return ngx_http_upstream_lbkit_bad_param(cf, &value[i],
                               &value[1], "a percentage above 100, such as "
                               "balance_factor=150");
                }

                lscf->balance_factor = (ngx_uint_t) n;
                continue;
            }

            return ngx_http_upstream_lbkit_bad_param(cf, &value[i], &value[1],
                       "consistent, maglev or balance_factor=N");
        }

        return ngx_http_upstream_lbkit_bad_param(cf, &value[i], &value[1],
                   m->args == NGX_HTTP_LBKIT_ARGS_EWMA ? "decay=TIME" : NULL);
    }

    lscf->method = m->name;
    lscf->method_file = cf->conf_file->file.name;
    lscf->method_line = cf->conf_file->line;
    lscf->upstream = uscf;

    uscf->peer.init_upstream = ngx_http_upstream_init_lbkit;

    /* checked by nginx as each `server` line after this one is parsed */
    uscf->flags = NGX_HTTP_UPSTREAM_CREATE
                  |NGX_HTTP_UPSTREAM_WEIGHT
                  |NGX_HTTP_UPSTREAM_MAX_CONNS
                  |NGX_HTTP_UPSTREAM_MAX_FAILS
                  |NGX_HTTP_UPSTREAM_FAIL_TIMEOUT
                  |NGX_HTTP_UPSTREAM_DOWN
                  |NGX_HTTP_UPSTREAM_BACKUP;

#if (NGX_HTTP_LBKIT_RESOLVE)
    /* `server NAME resolve`: lbkit follows the addresses nginx resolves */
    uscf->flags |= NGX_HTTP_UPSTREAM_MODIFY;
#endif

    return NGX_CONF_OK;
}


/* ---------------------------------------------------------------------- */
/* Other modules' balancing directives                                     */
/* ---------------------------------------------------------------------- */

/*
 * nginx's balancing directives (hash, ip_hash, least_conn, random, and those
 * of third-party modules) replace uscf->peer.init_upstream with only a "load
 * balancing method redefined" warning, which would take lbkit out of an
 * upstream without an error.  Before the http block is parsed, every
 * upstream-block directive of the other loaded modules is wrapped: the
 * wrapper runs the directive, and when it replaced init_upstream it was a
 * balancing method.  After `lbkit` that is an error naming both; before
 * `lbkit` its name and place are kept for the error `lbkit` gives.
 * `keepalive` chains to the balancer it finds, so it is only recorded.
 * The command tables are static data of nginx and its modules: the cycle
 * that wrapped them restores them when it is freed, before this module can
 * be unloaded, and a cycle without this module calls the directives as
 * they are.  postconfiguration refuses an upstream whose `lbkit` was
 * replaced anyway (a directive beyond the table's bound).
 */

typedef char *(*ngx_http_upstream_lbkit_set_pt)(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

typedef struct {
    ngx_command_t                   *cmd;
    ngx_http_upstream_lbkit_set_pt   set;   /* the directive's own handler */
} ngx_http_upstream_lbkit_wrapped_t;

#define NGX_HTTP_LBKIT_WRAPPED_MAX  64

static ngx_http_upstream_lbkit_wrapped_t
    ngx_http_upstream_lbkit_wrapped[NGX_HTTP_LBKIT_WRAPPED_MAX];
static ngx_uint_t  ngx_http_upstream_lbkit_nwrapped;


/* Directives that wrap the balancer they find rather than replace it. */
static ngx_uint_t
ngx_http_upstream_lbkit_chains(ngx_str_t *name)
{
    return name->len == sizeof("keepalive") - 1
           && ngx_strncmp(name->data, "keepalive", name->len) == 0;
}


static ngx_uint_t
ngx_http_upstream_lbkit_in_cycle(ngx_cycle_t *cycle)
{
    ngx_uint_t  i;

    for (i = 0; i < cycle->modules_n; i++) {
        if (cycle->modules[i] == &ngx_http_upstream_lbkit_module) {
            return 1;
        }
    }

    return 0;
}


static char *
ngx_http_upstream_lbkit_other_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char                                *rv;
    ngx_uint_t                           i, chains;
    ngx_http_upstream_init_pt            before;
    ngx_http_upstream_srv_conf_t        *uscf;
    ngx_http_upstream_lbkit_set_pt       set;
    ngx_http_upstream_lbkit_srv_conf_t  *lscf;

    set = NULL;

    for (i = 0; i < ngx_http_upstream_lbkit_nwrapped; i++) {
        if (ngx_http_upstream_lbkit_wrapped[i].cmd == cmd) {
            set = ngx_http_upstream_lbkit_wrapped[i].set;
            break;
        }
    }

    if (set == NULL) {
        return "has lost its handler";   /* cannot happen */
    }

    if (!ngx_http_upstream_lbkit_in_cycle(cf->cycle)) {
        return set(cf, cmd, conf);
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);
    before = uscf->peer.init_upstream;

    rv = set(cf, cmd, conf);

    if (rv != NGX_CONF_OK || uscf->peer.init_upstream == before) {
        return rv;
    }

    lscf = ngx_http_conf_get_module_srv_conf(cf,
                                             ngx_http_upstream_lbkit_module);
    chains = ngx_http_upstream_lbkit_chains(&cmd->name);

    if (lscf->method.len && !chains) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" cannot follow \"lbkit %V\" (%V:%ui) in "
                           "upstream \"%V\": an upstream has one balancing "
                           "method, remove one of them", &cmd->name,
                           &lscf->method, &lscf->method_file,
                           lscf->method_line, &uscf->host);
        return NGX_CONF_ERROR;
    }

    if (lscf->other_name.len == 0
        || (!chains && ngx_http_upstream_lbkit_chains(&lscf->other_name)))
    {
        lscf->other_name = cmd->name;
        lscf->other_file = cf->conf_file->file.name;
        lscf->other_line = cf->conf_file->line;
    }

    return rv;
}


static void
ngx_http_upstream_lbkit_unwrap(void *data)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_upstream_lbkit_nwrapped; i++) {
        ngx_http_upstream_lbkit_wrapped[i].cmd->set =
            ngx_http_upstream_lbkit_wrapped[i].set;
    }

    ngx_http_upstream_lbkit_nwrapped = 0;
}


static ngx_int_t
ngx_http_upstream_lbkit_preconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t           i;
    ngx_module_t        *module;
    ngx_command_t       *cmd;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(cf->cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_upstream_lbkit_unwrap;

    for (i = 0; i < cf->cycle->modules_n; i++) {
        module = cf->cycle->modules[i];

        if (module->type != NGX_HTTP_MODULE
            || module == &ngx_http_upstream_lbkit_module
            || module == &ngx_http_upstream_module
            || module->commands == NULL)
        {
            continue;
        }

        for (cmd = module->commands; cmd->name.len; cmd++) {
            if (!(cmd->type & NGX_HTTP_UPS_CONF)
                || cmd->set == ngx_http_upstream_lbkit_other_directive
                || ngx_http_upstream_lbkit_nwrapped
                   == NGX_HTTP_LBKIT_WRAPPED_MAX)
            {
                continue;
            }

            ngx_http_upstream_lbkit_wrapped[ngx_http_upstream_lbkit_nwrapped]
                .cmd = cmd;
            ngx_http_upstream_lbkit_wrapped[ngx_http_upstream_lbkit_nwrapped]
                .set = cmd->set;
            ngx_http_upstream_lbkit_nwrapped++;
            cmd->set = ngx_http_upstream_lbkit_other_directive;
        }
    }

    return NGX_OK;
}


/* `lbkit_check` on an upstream where lbkit does not balance is an error. */
static ngx_int_t
ngx_http_upstream_lbkit_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                           i;
    ngx_http_upstream_main_conf_t       *umcf;
    ngx_http_upstream_srv_conf_t       **uscfp;
    ngx_http_upstream_lbkit_srv_conf_t  *lscf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (uscfp[i]->srv_conf == NULL) {
            continue;   /* implicit upstream (proxy_pass http://host) */
        }

        lscf = ngx_http_conf_upstream_srv_conf(uscfp[i],
                                               ngx_http_upstream_lbkit_module);

        if (lscf->method.len && !lscf->initialised) {
            /* a balancing directive the wrapper below did not see */
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "another balancing method replaced \"lbkit %V\" "
                          "(%V:%ui) in upstream \"%V\": an upstream has one "
                          "balancing method, remove one of them",
                          &lscf->method, &lscf->method_file,
                          lscf->method_line, &uscfp[i]->host);
            return NGX_ERROR;
        }

        if (lscf->check.enabled && !lscf->initialised) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"lbkit_check\" needs \"lbkit METHOD;\" in "
                          "upstream \"%V\" in %s:%ui", &uscfp[i]->host,
                          uscfp[i]->file_name, uscfp[i]->line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* ---------------------------------------------------------------------- */
/* Worker start and exit                                                  */
/* ---------------------------------------------------------------------- */

static ngx_int_t
ngx_http_upstream_lbkit_init_process(ngx_cycle_t *cycle)
{
    ngx_http_upstream_lbkit_ledger_init_process(cycle);

    return ngx_http_upstream_lbkit_check_init_process(cycle);
}


static void
ngx_http_upstream_lbkit_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_upstream_lbkit_check_exit_process(cycle);
    ngx_http_upstream_lbkit_ledger_exit_process(cycle);
}


/* ---------------------------------------------------------------------- */
/* Upstream initialisation (configuration time)                           */
/* ---------------------------------------------------------------------- */

ngx_flag_t
ngx_http_upstream_lbkit_process_alive(ngx_pid_t pid)
{
    return kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH;
}


/* "host" of "host:port" (IPv6 "[::1]:80" keeps its brackets). */
ngx_str_t
ngx_http_upstream_lbkit_host_of(ngx_str_t *server)
{
    ngx_str_t  host = *server;
    u_char    *p;

    if (host.len > 5 && ngx_strncasecmp(host.data, (u_char *) "unix:", 5) == 0)
    {
        ngx_str_set(&host, "localhost");
        return host;
    }

    for (p = host.data + host.len; p > host.data; p--) {
        if (p[-1] == ']') {
            break;
        }
        if (p[-1] == ':') {
            host.len = p - 1 - host.data;
            break;
        }
    }

    return host;
}


static int ngx_libc_cdecl
ngx_http_upstream_lbkit_cmp_names(const void *one, const void *two)
{
    const ngx_http_upstream_lbkit_peer_t  *a, *b;
    ngx_int_t                              rc;

    a = *(ngx_http_upstream_lbkit_peer_t * const *) one;
    b = *(ngx_http_upstream_lbkit_peer_t * const *) two;

    rc = ngx_memn2cmp(a->name.data, b->name.data, a->name.len, b->name.len);
    if (rc != 0) {
        return rc < 0 ? -1 : 1;
    }

    return a->id < b->id ? -1 : (a->id > b->id);
}


/*
 * Pool names must be unique, but nginx accepts a server listed twice: the
 * second and later copies are named "NAME#2", "NAME#3"... (they hash
 * differently from nginx's duplicates, which share ring points).  Names
 * longer than the pool allows are a configuration error.
 */
static ngx_int_t
ngx_http_upstream_lbkit_unique_names(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us, ngx_http_upstream_lbkit_peer_t *peer,
    ngx_uint_t n)
{
    u_char                           *p;
    ngx_uint_t                        i, copy;
    ngx_http_upstream_lbkit_peer_t  **sorted, *first;

    first = NULL;
    sorted = ngx_palloc(cf->temp_pool, n * sizeof(*sorted));
    if (sorted == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        sorted[i] = &peer[i];
    }

    ngx_qsort(sorted, n, sizeof(*sorted), ngx_http_upstream_lbkit_cmp_names);

    copy = 1;

    for (i = 0; i < n; i++) {
        /* first (unrenamed) member of the current run of equal names */
        if (i > 0 && first->name.len == sorted[i]->name.len
            && ngx_strncmp(first->name.data, sorted[i]->name.data,
                           sorted[i]->name.len) == 0)
        {
            copy++;

            p = ngx_pnalloc(cf->pool, sorted[i]->name.len + NGX_INT_T_LEN + 1);
            if (p == NULL) {
                return NGX_ERROR;
            }

            sorted[i]->name.len = ngx_sprintf(p, "%V#%ui", &sorted[i]->name,
                                              copy) - p;
            sorted[i]->name.data = p;

        } else {
            copy = 1;
            first = sorted[i];
        }

        if (sorted[i]->name.len >= LBK_NAME_MAX) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "server \"%V\" in upstream \"%V\" in %s:%ui: "
                          "lbkit takes names of at most %d bytes",
                          &sorted[i]->name, &us->host, us->file_name,
                          us->line, LBK_NAME_MAX - 1);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A `server NAME resolve` line: its one address is only a port template; the
 * addresses come at run time (ngx_http_upstream_lbkit_api.c follows them).
 */
static ngx_inline ngx_uint_t
ngx_http_upstream_lbkit_resolved_later(ngx_http_upstream_server_t *server)
{
#if (NGX_HTTP_LBKIT_RESOLVE)
    return server->host.len != 0;
#else
    return 0;
#endif
}


/*
 * Runs at configuration time in place of ngx_http_upstream_init_round_robin
 * (which it calls first so that us->peer.data stays nginx's peer list), and
 * lays out the peer table the zone init will load into the lbk pool.
 */
static ngx_int_t
ngx_http_upstream_init_lbkit(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us)
{
    ngx_uint_t                            i, j, k, n, nprimary, nbackup;
    ngx_uint_t                            capacity, resolvable;
    ngx_http_upstream_server_t           *server;
    ngx_http_upstream_lbkit_peer_t       *peer;
    ngx_http_upstream_lbkit_srv_conf_t   *lscf, **lscfp;
    ngx_http_upstream_lbkit_main_conf_t  *lmcf;

    if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_upstream_init_lbkit_peer;

    lscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_upstream_lbkit_module);
    lmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_upstream_lbkit_module);

    lscf->upstream = us;

    n = 0;
    nprimary = 0;
    nbackup = 0;
    server = us->servers->elts;

    resolvable = 0;

    for (i = 0; i < us->servers->nelts; i++) {
        if (ngx_http_upstream_lbkit_resolved_later(&server[i])) {
            resolvable = 1;
            continue;
        }

        n += server[i].naddrs;
        if (server[i].backup) {
            nbackup += server[i].naddrs;
        } else {
            nprimary += server[i].naddrs;
        }
    }

    if ((n == 0 && !resolvable) || n > LBK_PEERS_MAX) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" in %s:%ui has %ui addresses; lbkit "
                      "balances 1 to %d", &us->host, us->file_name, us->line,
                      n, LBK_PEERS_MAX);
        return NGX_ERROR;
    }

    /* room for the servers the API may add (ids n..capacity-1, unused) */
    capacity = ngx_http_upstream_lbkit_api_capacity(cf, us, n);
    if (capacity == 0) {
        return NGX_ERROR;
    }

    peer = ngx_pcalloc(cf->pool,
                       capacity * sizeof(ngx_http_upstream_lbkit_peer_t));
    if (peer == NULL) {
        return NGX_ERROR;
    }

    /*
     * Ids follow the order of the `server` lines, as nginx's own peer list
     * does (the zone init checks that the pool hands them out so).
     */
    k = 0;

    for (i = 0; i < us->servers->nelts; i++) {
        if (ngx_http_upstream_lbkit_resolved_later(&server[i])) {
            continue;
        }

        for (j = 0; j < server[i].naddrs; j++, k++) {
            peer[k].id = (uint32_t) k;
            peer[k].used = 1;
            peer[k].backup = server[i].backup;
            peer[k].down = server[i].down ? 1 : 0;
            peer[k].server = server[i].name;
            peer[k].address = server[i].addrs[j].name;
            peer[k].name = server[i].naddrs == 1 ? server[i].name
                                                 : server[i].addrs[j].name;
            peer[k].host = ngx_http_upstream_lbkit_host_of(&server[i].name);
            peer[k].sockaddr = server[i].addrs[j].sockaddr;
            peer[k].socklen = server[i].addrs[j].socklen;
            peer[k].weight = server[i].weight;
            peer[k].max_conns = server[i].max_conns;
            peer[k].fail_timeout = (ngx_msec_t) server[i].fail_timeout * 1000;

            /*
             * nginx never takes the only server of an upstream out for
             * failures (its round robin ignores max_fails then); keep that.
             */
            peer[k].max_fails = (nprimary == 1 && nbackup == 0)
                                ? 0 : server[i].max_fails;
        }
    }

    if (ngx_http_upstream_lbkit_unique_names(cf, us, peer, n) != NGX_OK) {
        return NGX_ERROR;
    }

    /* as nginx's round robin: one try per server that is not down */
    lscf->tries = 0;
    for (k = 0; k < n; k++) {
        lscf->tries += peer[k].down ? 0 : 1;
    }

    if (lscf->tries == 0) {
        lscf->tries = 1;
    }

    lscf->peers = peer;
    lscf->npeers = capacity;
    lscf->tried_words = (capacity + 63) / 64;
    lscf->pool_size = lbk_pool_size((uint32_t) capacity);
    lscf->initialised = 1;

    if (lscf->method.len == 0) {
        /* not reached through `lbkit`: cannot happen, but stay defined */
        ngx_str_set(&lscf->method, "round_robin");
    }

    lscfp = ngx_array_push(&lmcf->upstreams);
    if (lscfp == NULL) {
        return NGX_ERROR;
    }

    *lscfp = lscf;

    return ngx_http_upstream_lbkit_zone_add(cf, lmcf, lscf);
}


/* ---------------------------------------------------------------------- */
/* Balancer (per request)                                                 */
/* ---------------------------------------------------------------------- */

uint64_t
ngx_http_upstream_lbkit_now_us(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


static ngx_int_t
ngx_http_upstream_init_lbkit_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_lbkit_srv_conf_t   *lscf;
    ngx_http_upstream_lbkit_peer_data_t  *lp;

    lscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_upstream_lbkit_module);

    if (lscf->pool == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "lbkit: upstream \"%V\" has no pool", &us->host);
        return NGX_ERROR;
    }

    lp = ngx_palloc(r->pool, sizeof(ngx_http_upstream_lbkit_peer_data_t));
    if (lp == NULL) {
        return NGX_ERROR;
    }

    ngx_http_upstream_lbkit_api_sync(lscf);

    lp->conf = lscf;
    lp->request = r;
    lp->current = LBK_PEER_NONE;
    lp->started_us = 0;
    ngx_str_null(&lp->key);

    if (lscf->tried_words == 1) {
        lp->tried_one = 0;
        lp->tried = &lp->tried_one;

    } else {
        lp->tried = ngx_pcalloc(r->pool, lscf->tried_words * sizeof(uint64_t));
        if (lp->tried == NULL) {
            return NGX_ERROR;
        }
    }

    if (lscf->key) {
        /* an empty key is balanced by round robin, as by nginx's hash */
        if (ngx_http_complex_value(r, lscf->key, &lp->key) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    r->upstream->peer.data = lp;
    r->upstream->peer.get = ngx_http_upstream_get_lbkit_peer;
    r->upstream->peer.free = ngx_http_upstream_free_lbkit_peer;
    r->upstream->peer.tries = lscf->tries;
#if (NGX_HTTP_SSL)
    r->upstream->peer.set_session = ngx_http_upstream_lbkit_set_session;
    r->upstream->peer.save_session = ngx_http_upstream_lbkit_save_session;
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_upstream_get_lbkit_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_upstream_lbkit_peer_data_t  *lp = data;

    int                                   rc;
    uint32_t                              id;
    ngx_http_upstream_lbkit_srv_conf_t   *lscf;
    ngx_http_upstream_lbkit_peer_t       *peer;

    lscf = lp->conf;
    pc->cached = 0;
    pc->connection = NULL;

    rc = lbk_pool_pick(&id, lscf->pool, lp->key.data, lp->key.len, lp->tried,
                       lscf->tried_words);

    if (rc == LBK_ENOPEER) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "lbkit: no usable peer in upstream \"%V\"",
                       &lscf->upstream->host);
        pc->name = &lscf->upstream->host;
        return NGX_BUSY;
    }

    if (rc != 0 || id >= lscf->npeers) {
        ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                      "lbkit: upstream \"%V\": pick failed: %s (%s)",
                      &lscf->upstream->host, lbk_strerror(rc),
                      lbk_error_last());
        pc->name = &lscf->upstream->host;
        return NGX_ERROR;
    }

    /* a server the API added after this request started: its record */
    ngx_http_upstream_lbkit_api_sync(lscf);

    peer = &lscf->peers[id];

    lp->current = id;
    lp->started_us = ngx_http_upstream_lbkit_now_us();

    if (lscf->ledger_mine) {
        lscf->ledger_mine[id]++;
    }
    lp->tried[id / 64] |= (uint64_t) 1 << (id % 64);

    pc->sockaddr = peer->sockaddr;
    pc->socklen = peer->socklen;
    pc->name = &peer->address;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "lbkit: upstream \"%V\" picked %uD %V",
                   &lscf->upstream->host, id, &peer->address);

    return NGX_OK;
}


static void
ngx_http_upstream_free_lbkit_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_upstream_lbkit_peer_data_t  *lp = data;

    uint32_t                              id;
    lbk_outcome                           outcome = LBK_OUTCOME_INIT;
    lbk_peer_info                         info;
    ngx_http_upstream_t                  *u;
    ngx_http_upstream_lbkit_srv_conf_t   *lscf;

    if (pc->tries) {
        pc->tries--;
    }

    id = lp->current;
    if (id == LBK_PEER_NONE) {
        return;
    }

    lp->current = LBK_PEER_NONE;
    lscf = lp->conf;
    u = lp->request->upstream;

    outcome.result = (state & NGX_PEER_FAILED) ? LBK_OUTCOME_FAILED
                                               : LBK_OUTCOME_OK;
    outcome.latency_us = ngx_http_upstream_lbkit_now_us() - lp->started_us;
    outcome.status = (u && u->headers_in.status_n > 0)
                     ? (int) u->headers_in.status_n : 0;

    /* traffic statistics: nginx fills u->state before it calls free */
    outcome.response_time_us = outcome.latency_us;
    if (u && u->state) {
        outcome.bytes_sent = u->state->bytes_sent;
        outcome.bytes_received = u->state->bytes_received;
        if (u->state->header_time != (ngx_msec_t) -1 && outcome.status > 0) {
            /* nginx measures it in ms from the attempt's start; 0 ms is a
               header that came within the first millisecond */
            outcome.header_time_us = u->state->header_time
                                     ? (uint64_t) u->state->header_time * 1000
                                     : 1;
        }
    }

    if (lscf->ledger_mine && lscf->ledger_mine[id] > 0) {
        lscf->ledger_mine[id]--;
    }

    (void) lbk_pool_release(lscf->pool, id, &outcome);

    if (outcome.result != LBK_OUTCOME_FAILED
        || lscf->peers[id].max_fails == 0)
    {
        return;
    }

    /* log the failure that takes the peer out (max_fails reached) once */
    ngx_memzero(&info, sizeof(lbk_peer_info));
    info.version = LBK_PEER_INFO_VERSION;

    if (lbk_pool_peer_info(&info, lscf->pool, id) == 0
        && info.fails_in_window == lscf->peers[id].max_fails)
    {
        u_char  reason[128];

        ngx_snprintf(reason, sizeof(reason),
                     "%ui failures within fail_timeout=%Mms%Z",
                     lscf->peers[id].max_fails, lscf->peers[id].fail_timeout);

        ngx_http_upstream_lbkit_log_state(pc->log, lscf, id,
                                          "temporarily down", (char *) reason);
    }
}


#if (NGX_HTTP_SSL)

/* TLS session reuse per peer, per worker (as nginx's round robin without a
   zone). */
static ngx_int_t
ngx_http_upstream_lbkit_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_upstream_lbkit_peer_data_t  *lp = data;

    ngx_ssl_session_t                    *session;
    ngx_http_upstream_lbkit_srv_conf_t   *lscf;

    lscf = lp->conf;

    if (lp->current == LBK_PEER_NONE || lscf->ssl_sessions == NULL) {
        return NGX_OK;
    }

    session = lscf->ssl_sessions[lp->current];
    if (session == NULL) {
        return NGX_OK;
    }

    return ngx_ssl_set_session(pc->connection, session);
}


static void
ngx_http_upstream_lbkit_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_upstream_lbkit_peer_data_t  *lp = data;

    ngx_ssl_session_t                    *session, *old;
    ngx_http_upstream_lbkit_srv_conf_t   *lscf;

    lscf = lp->conf;

    if (lp->current == LBK_PEER_NONE) {
        return;
    }

    session = ngx_ssl_get_session(pc->connection);
    if (session == NULL) {
        return;
    }

    if (lscf->ssl_sessions == NULL) {
        lscf->ssl_sessions = ngx_pcalloc(ngx_cycle->pool,
                                 lscf->npeers * sizeof(ngx_ssl_session_t *));
        if (lscf->ssl_sessions == NULL) {
            ngx_ssl_free_session(session);
            return;
        }
    }

    old = lscf->ssl_sessions[lp->current];
    lscf->ssl_sessions[lp->current] = session;

    if (old) {
        ngx_ssl_free_session(old);
    }
}

#endif


/* ---------------------------------------------------------------------- */
/* Helpers shared with the check and status code                          */
/* ---------------------------------------------------------------------- */

void
ngx_http_upstream_lbkit_log_state(ngx_log_t *log,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id, const char *state,
    const char *reason)
{
    ngx_str_t  *name;

    name = id < lscf->npeers ? &lscf->peers[id].name : NULL;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "lbkit: upstream %V server %V %s%s%s",
                  &lscf->upstream->host, name ? name : &lscf->upstream->host,
                  state, reason ? ": " : "", reason ? reason : "");
}


uint64_t
ngx_http_upstream_lbkit_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}
