/*
 * ngx_http_upstream_lbkit.h - the internal contract between the source
 * files of ngx_http_upstream_lbkit_module (docs/ARCHITECTURE.md):
 *
 *   ngx_http_upstream_lbkit_module.c  directive `lbkit`, the peer table,
 *                                     the balancer;
 *   ngx_http_upstream_lbkit_zone.c    the shared zone, the in-flight
 *                                     ledger, reload state copy;
 *   ngx_http_upstream_lbkit_check_conf.c  the `lbkit_check` directive and
 *                                     its parameter table;
 *   ngx_http_upstream_lbkit_check.c   active checks on the nginx event loop
 *                                     (_check.h: what the two share);
 *   ngx_http_upstream_lbkit_status.c  `lbkit_status`, the status page and
 *                                     the server-state rule;
 *   ngx_http_upstream_lbkit_api.c     `lbkit_api`, `lbkit_capacity`,
 *                                     `lbkit_state` (_api.h);
 *   ngx_http_upstream_lbkit_json.c    JSON for the API and state file.
 *
 * Lifetimes.  Every struct here except those marked "shared memory" lives in
 * the configuration cycle's pool.  The zone init (run by the master, before
 * fork) places one lbk_pool per lbkit upstream in the module's shared zone
 * and stores the process-local handle in the upstream's srv conf; workers
 * inherit the handles across fork().  The srv conf is therefore valid in
 * every worker from init_process on, with `pool`, `peers` and `check_peers`
 * set for every upstream listed in the main conf's `upstreams` array.
 *
 * Shared-memory records (ngx_http_upstream_lbkit_check_peer_t) are updated
 * with nginx atomics only; they hold no pointers.
 */

#ifndef NGX_HTTP_UPSTREAM_LBKIT_H_INCLUDED
#define NGX_HTTP_UPSTREAM_LBKIT_H_INCLUDED

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <lbkit.h>


extern ngx_module_t  ngx_http_upstream_lbkit_module;


/* The `lbkit_check` settings of one upstream, as its parser leaves them. */
typedef struct {
    ngx_flag_t                  enabled;      /* `lbkit_check` was given */

    /*
     * Every lbk_check_options string points at NUL-terminated memory in
     * cf->pool (NULL = the library default).
     */
    lbk_check_options           opts;

    /* compiled from opts by the parser (cleanup registered on cf->pool) */
    lbk_check                  *check;

    /* `port=`: checks connect here instead of each peer's port; 0 = own */
    in_port_t                   port;

    /*
     * `slow_start=`: weight ramp after a peer recovers; 0 = off.  Read by
     * the zone init when it places the pool (lbk_pool_options.slow_start_us).
     */
    ngx_msec_t                  slow_start;

#if (NGX_HTTP_SSL)
    ngx_ssl_t                  *ssl;          /* type=https / TLS jsonrpc */
#endif

    void                       *data;         /* free for the check code */
} ngx_http_upstream_lbkit_check_conf_t;


/*
 * One peer (one address of one `server` line), indexed by its lbk id in the
 * srv conf's `peers` array.  Immutable after init_upstream.
 */
typedef struct {
    uint32_t                    id;           /* lbk id == index */
    unsigned                    used:1;       /* slot holds a peer */
    unsigned                    backup:1;
    unsigned                    down:1;

    /*
     * The pool's identity of the peer (hash methods hash it, reload matches
     * by it): the `server` text ("127.0.0.1:8080") when the server has one
     * address, otherwise the address.
     */
    ngx_str_t                   name;
    ngx_str_t                   server;       /* the `server` text */
    ngx_str_t                   address;      /* "127.0.0.1:8080" (pc->name) */
    ngx_str_t                   host;         /* server text without port,
                                                 for Host: in checks; an IPv6
                                                 literal keeps its brackets
                                                 ("[::1]"); "localhost" for
                                                 unix: sockets */
    struct sockaddr            *sockaddr;
    socklen_t                   socklen;

    ngx_uint_t                  weight;
    ngx_uint_t                  max_conns;
    ngx_uint_t                  max_fails;
    ngx_msec_t                  fail_timeout;
} ngx_http_upstream_lbkit_peer_t;


/*
 * Per-peer record in shared memory (one per lbk id, `check_peers`), kept by
 * the active-check code:
 *  - claim: the worker that performs this peer's checks.  A worker may take
 *    the claim when claim_pid is 0 or claim_expiry (ngx_current_msec, which
 *    is CLOCK_MONOTONIC and so comparable across workers) has passed; the
 *    owner renews the lease while it runs checks.  Take it with
 *    ngx_atomic_cmp_set on claim_pid.
 *  - last check: written only by the claim owner, seqlock style: `seq` is
 *    odd while the fields are being written; readers retry (bounded) or
 *    accept a torn read of the reason text.
 * The zone init (ngx_http_upstream_lbkit_zone.c) zeroes the records, and on
 * reload copies the last-check fields (not the claim) of peers that still
 * exist.
 */
typedef struct {
    ngx_atomic_t                claim_pid;     /* 0 = unclaimed */
    ngx_atomic_t                claim_expiry;  /* ngx_current_msec */
    ngx_atomic_t                next_check;    /* ngx_current_msec when the
                                                  next check is due; 0 = now */
    ngx_atomic_t                seq;

    uint64_t                    time_ms;       /* wall clock, epoch ms;
                                                  0 = never checked */
    uint64_t                    duration_us;
    int32_t                     outcome;       /* enum lbk_check_outcome */
    int32_t                     http_status;   /* 0 = none */
    uint64_t                    checks;        /* attempts by any worker */
    u_char                      reason[LBK_REASON_MAX]; /* NUL-terminated */
} ngx_http_upstream_lbkit_check_peer_t;


/*
 * Per-upstream configuration (the module's srv conf).  create_srv_conf zeroes
 * it and sets check.opts = LBK_CHECK_OPTIONS_INIT.
 */
typedef struct {
    ngx_http_upstream_srv_conf_t  *upstream;  /* name: upstream->host */

    /* `lbkit METHOD ...` */
    ngx_str_t                   method;       /* canonical lbk method name;
                                                 len 0 = no `lbkit` here */
    ngx_http_complex_value_t   *key;          /* hash KEY */
    ngx_int_t                   hash_kind;    /* enum lbk_hash_kind */
    ngx_uint_t                  balance_factor; /* percent; 0 = unbounded */
    ngx_msec_t                  ewma_decay;   /* peak_ewma decay=; 0 = lib */
    ngx_uint_t                  suspect_set;  /* suspect= given */
    ngx_msec_t                  suspect;      /* its floor; 0 = off */
    ngx_str_t                   method_file;  /* where `lbkit` is */
    ngx_uint_t                  method_line;

    /* another module's balancing directive (or `keepalive`) seen in this
       upstream: name and place, for the error naming both */
    ngx_str_t                   other_name;   /* len 0 = none */
    ngx_str_t                   other_file;
    ngx_uint_t                  other_line;

    /* `lbkit_check ...` */
    ngx_http_upstream_lbkit_check_conf_t  check;

    /* built by init_upstream */
    unsigned                    initialised:1; /* lbkit balances here */
    ngx_uint_t                  npeers;       /* length of peers[] (ids) */
    ngx_http_upstream_lbkit_peer_t  *peers;
    ngx_uint_t                  tried_words;  /* uint64_t words per bitmap */
    size_t                      pool_size;    /* lbk_pool_size(npeers) */
    ngx_uint_t                  tries;        /* peers not `down` (>= 1) */

    /* set by the zone init in the master; inherited by workers */
    lbk_pool                   *pool;
    ngx_http_upstream_lbkit_check_peer_t  *check_peers;  /* shared memory */

    /*
     * The in-flight ledger (shared memory): ledger_entries entries of
     * ledger_entry_size bytes, each an ngx_atomic_t owner pid (0 = free)
     * then npeers uint32_t counts of the requests that owner has in flight
     * per peer.  A worker claims one at start; a worker starting later
     * releases in the pool what a dead owner's entry still counts.
     */
    u_char                     *ledger;
    ngx_uint_t                  ledger_entries;
    size_t                      ledger_entry_size;
    uint32_t                   *ledger_mine;  /* this worker's counts, or
                                                 NULL (no entry free) */
    ngx_uint_t                  ledger_my_entry; /* its index, when set */

#if (NGX_HTTP_SSL)
    /* per worker, by id: the last TLS session to each peer (proxy_ssl) */
    ngx_ssl_session_t         **ssl_sessions;
#endif

    /* dynamic membership (ngx_http_upstream_lbkit_api.h), set at zone init;
       npeers above counts every id the upstream has room for */
    void                       *api;
} ngx_http_upstream_lbkit_srv_conf_t;


/* Module-wide configuration (the module's main conf). */
typedef struct {
    ngx_array_t                 upstreams;    /* of
                                   ngx_http_upstream_lbkit_srv_conf_t *, every
                                   upstream whose init_upstream ran */
    ngx_shm_zone_t             *shm_zone;     /* NULL: no lbkit upstream */
    size_t                      zone_size;

    /* during a reload: the previous cycle's main conf (state is copied from
       its pools by upstream and server name), else NULL */
    void                       *previous;
    ngx_cycle_t                *cycle;        /* the cycle being loaded */
} ngx_http_upstream_lbkit_main_conf_t;


/* `lbkit_status` output formats. */
#define NGX_HTTP_LBKIT_STATUS_JSON        1
#define NGX_HTTP_LBKIT_STATUS_PROMETHEUS  2
#define NGX_HTTP_LBKIT_STATUS_HTML        3

/* Per-location configuration (the module's loc conf). */
typedef struct {
    ngx_flag_t                  status;        /* `lbkit_status` here */
    ngx_uint_t                  status_format; /* NGX_HTTP_LBKIT_STATUS_*,
                                                  NGX_CONF_UNSET_UINT = json */
} ngx_http_upstream_lbkit_loc_conf_t;


/* --- implemented in ngx_http_upstream_lbkit_module.c ------------------- */

/*
 * Logs a health or state change of peer @id at notice level:
 * "lbkit: upstream NAME server PEER down: REASON" (@state is "up", "down",
 * ...; @reason may be NULL).
 */
void ngx_http_upstream_lbkit_log_state(ngx_log_t *log,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id,
    const char *state, const char *reason);

/* "host" of a `server` text "host:port" (IPv6 "[::1]" keeps its brackets;
   "localhost" for unix: sockets). */
ngx_str_t ngx_http_upstream_lbkit_host_of(ngx_str_t *server);

/* Wall-clock milliseconds since the epoch (for check records). */
uint64_t ngx_http_upstream_lbkit_now_ms(void);

/*
 * Whether process @pid (> 0) may still exist: kill(pid, 0) succeeds or fails
 * with anything but ESRCH (EPERM: it exists under another user).  The rule
 * for every owner pid the module keeps in shared memory (check claims, the
 * in-flight ledger), as liblbkit's shared-memory lock applies it.
 */
ngx_flag_t ngx_http_upstream_lbkit_process_alive(ngx_pid_t pid);

/* CLOCK_MONOTONIC in microseconds: the pools' clock (liblbkit's default),
 * used for request latency, check deadlines and the status page. */
uint64_t ngx_http_upstream_lbkit_now_us(void);


/* --- implemented in ngx_http_upstream_lbkit_zone.c --------------------- */

/*
 * Called by init_upstream for each lbkit upstream, once its peer table is
 * built (lscf->npeers, pool_size): sizes lscf's ledger, adds what lscf needs
 * to the zone's size, and on the first call adds the zone to the cycle
 * (its init places the pools and copies state from the previous cycle).
 */
ngx_int_t ngx_http_upstream_lbkit_zone_add(ngx_conf_t *cf,
    ngx_http_upstream_lbkit_main_conf_t *lmcf,
    ngx_http_upstream_lbkit_srv_conf_t *lscf);

/*
 * During a reload: the previous cycle's srv conf of the upstream named as
 * @lscf's (upstream names are unique in a cycle), if its pool was placed;
 * NULL when there is none or @old is NULL.
 */
ngx_http_upstream_lbkit_srv_conf_t *
    ngx_http_upstream_lbkit_zone_previous_upstream(
    ngx_http_upstream_lbkit_main_conf_t *old,
    ngx_http_upstream_lbkit_srv_conf_t *lscf);

/*
 * From the module's init_process, in a worker: releases what the ledger
 * entries of workers that no longer exist still count, and claims this
 * worker's entry (lscf->ledger_mine) in every lbkit upstream.
 */
void ngx_http_upstream_lbkit_ledger_init_process(ngx_cycle_t *cycle);

/* From the module's exit_process: releases what this worker's entries still
   count and frees them. */
void ngx_http_upstream_lbkit_ledger_exit_process(ngx_cycle_t *cycle);


/* --- implemented in ngx_http_upstream_lbkit_check_conf.c --------------- */

/*
 * `lbkit_check ...` in upstream{} (NGX_HTTP_UPS_CONF, conf = this upstream's
 * ngx_http_upstream_lbkit_srv_conf_t): fills conf->check, or returns an
 * error naming the bad parameter.
 */
char *ngx_http_upstream_lbkit_check_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


/* --- implemented in ngx_http_upstream_lbkit_check.c -------------------- */

/* Called from the module's init_process in every worker. */
ngx_int_t ngx_http_upstream_lbkit_check_init_process(ngx_cycle_t *cycle);
/* Called from the module's exit_process: closes checks in flight. */
void ngx_http_upstream_lbkit_check_exit_process(ngx_cycle_t *cycle);

/*
 * Peer @id of @lscf was added, removed or re-addressed (the API, `resolve`):
 * this worker starts, stops or restarts its check.  A no-op without checks
 * and outside workers.
 */
void ngx_http_upstream_lbkit_check_peer_changed(
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id);


/* --- implemented in ngx_http_upstream_lbkit_status.c ------------------- */

/*
 * `lbkit_status [json|prometheus|html];` in a location (conf = the
 * location's ngx_http_upstream_lbkit_loc_conf_t): sets the content handler.
 */
char *ngx_http_upstream_lbkit_status_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

ngx_int_t ngx_http_upstream_lbkit_status_handler(ngx_http_request_t *r);

/*
 * A server's state, the one rule the status page and the Plus-style API
 * share (definitions: the comment at the top of the status file and the man
 * page); the index into ngx_http_upstream_lbkit_state_names.
 */
enum {
    LBK_STATE_UP = 0,
    LBK_STATE_DRAINING,
    LBK_STATE_DOWN,
    LBK_STATE_UNAVAIL,
    LBK_STATE_CHECKING,
    LBK_STATE_UNHEALTHY,
    LBK_STATE_MAINT,
    LBK_STATE_COUNT
};

extern const char *ngx_http_upstream_lbkit_state_names[LBK_STATE_COUNT];

ngx_uint_t ngx_http_upstream_lbkit_peer_state(
    ngx_http_upstream_lbkit_srv_conf_t *lscf, lbk_peer_info *info);


#endif /* NGX_HTTP_UPSTREAM_LBKIT_H_INCLUDED */
