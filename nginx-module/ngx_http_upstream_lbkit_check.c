/*
 * ngx_http_upstream_lbkit_check.c - `lbkit_check`: active health checks of
 * an lbkit upstream's peers, run on nginx's own event loop in the workers.
 *
 * Judging is liblbkit's (sans-I/O): lbk_check_request() renders the bytes to
 * send, lbk_check_reply_feed() reads the reply and gives a verdict,
 * lbk_pool_report_check_at() keeps rise/fall state, counters, probe latency,
 * lag and slow start in the pool in shared memory and makes the final
 * verdict (lag included) that the check record shows, and
 * lbk_pool_peer_next_check_delay() says when the next check is due, from
 * that shared state.  This file owns the I/O:
 * a non-blocking connect (ngx_event_connect_peer), TLS (ngx_ssl), nginx
 * timers, and the per-peer claim that makes one worker at a time check a
 * given peer.
 *
 * Claim protocol (ngx_http_upstream_lbkit_check_peer_t in shared memory):
 * every worker keeps a timer per peer.  When it fires, the worker takes or
 * renews the claim: it may take it when claim_pid is 0, when claim_expiry
 * (ngx_current_msec, CLOCK_MONOTONIC and so comparable across workers) has
 * passed, or when the owning process no longer exists; the take is an
 * ngx_atomic_cmp_set on claim_pid.  Only the owner checks; the others look
 * again after an interval.  A worker that is shutting down (reload) gives
 * its claims back at its next tick.  In the rare race where two workers take
 * the same expired claim one after the other, one extra check is sent; the
 * loser notices at its next tick.
 *
 * Timeouts are measured from the actual connect start with the monotonic
 * clock, not from nginx's cached time.  A busy worker must not blame its
 * peers for its own lateness: the deadline handler first lets pending I/O
 * complete, and when one of our timers fired late during the attempt (the
 * worker stalled, so the request may have left only when it resumed), the
 * peer gets one whole timeout from the moment the stall was seen.
 *
 * Failures on this worker's side (no free connection, memory) are not
 * verdicts: the attempt is skipped and retried after an interval.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_http.h>

#include <poll.h>

#include "ngx_http_upstream_lbkit.h"
#include "ngx_http_upstream_lbkit_api.h"
#include "ngx_http_upstream_lbkit_check.h"


#define NGX_HTTP_LBKIT_CHECK_RECV_SIZE  4096

/*
 * A timer of ours that fires this late means the worker did not run for a
 * while (busy, or stopped): the peer cannot be blamed for that time.
 */
#define NGX_HTTP_LBKIT_CHECK_STALL_US   50000


/* Per worker: monotonic time at which a stall of the worker was last seen. */
static uint64_t  ngx_http_upstream_lbkit_check_stall_seen_us;


/* Per worker, per checked peer. */
typedef struct {
    ngx_http_upstream_lbkit_srv_conf_t    *lscf;
    ngx_http_upstream_lbkit_check_extra_t *extra;
    ngx_http_upstream_lbkit_peer_t        *peer;
    ngx_http_upstream_lbkit_check_peer_t  *shared;
    uint32_t                    id;

    ngx_event_t                 tick;         /* next check or claim look */
    ngx_event_t                 deadline;     /* check timeout */
    ngx_log_t                   conn_log;     /* quiet log for the socket */

    struct sockaddr            *sockaddr;     /* peer address, port= applied */
    socklen_t                   socklen;
    ngx_str_t                   name;         /* "127.0.0.1:8080" */
    u_char                     *sni;          /* NUL-terminated, or NULL */

    u_char                     *request;
    size_t                      request_len;
    u_char                     *recv_buf;

    lbk_check_reply            *reply;

    /* the attempt in flight */
    ngx_peer_connection_t       pc;
    ngx_pool_t                 *pool;
    uint64_t                    start_us;     /* monotonic, connect start */
    uint64_t                    deadline_due_us; /* when it should fire */
    uint64_t                    tick_due_us;
    size_t                      sent;
    size_t                      received;
    unsigned                    running:1;
    unsigned                    connected:1;
    unsigned                    request_sent:1;
    unsigned                    extended:1;   /* deadline moved for a stall */
} ngx_http_upstream_lbkit_check_ctx_t;


static ngx_int_t ngx_http_upstream_lbkit_check_init_peer(ngx_cycle_t *cycle,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id);
static void ngx_http_upstream_lbkit_check_free_reply(void *data);
static void ngx_http_upstream_lbkit_check_tick(ngx_event_t *ev);
static ngx_int_t ngx_http_upstream_lbkit_check_claim(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static void ngx_http_upstream_lbkit_check_release(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static void ngx_http_upstream_lbkit_check_start(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static void ngx_http_upstream_lbkit_check_connected(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static void ngx_http_upstream_lbkit_check_write_handler(ngx_event_t *wev);
static void ngx_http_upstream_lbkit_check_read_handler(ngx_event_t *rev);
static void ngx_http_upstream_lbkit_check_send(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static void ngx_http_upstream_lbkit_check_recv(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static void ngx_http_upstream_lbkit_check_deadline_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_upstream_lbkit_check_connecting(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static ngx_int_t ngx_http_upstream_lbkit_check_test_connect(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static void ngx_http_upstream_lbkit_check_fail(
    ngx_http_upstream_lbkit_check_ctx_t *ctx, int outcome, ngx_err_t err,
    const char *what);
static void ngx_http_upstream_lbkit_check_verdict(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static void ngx_http_upstream_lbkit_check_abandon(
    ngx_http_upstream_lbkit_check_ctx_t *ctx, const char *why);
static void ngx_http_upstream_lbkit_check_finish(
    ngx_http_upstream_lbkit_check_ctx_t *ctx, lbk_check_result *result);
static void ngx_http_upstream_lbkit_check_close(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static void ngx_http_upstream_lbkit_check_schedule(
    ngx_http_upstream_lbkit_check_ctx_t *ctx, ngx_msec_t delay);
#if (NGX_HTTP_SSL)
static void ngx_http_upstream_lbkit_check_ssl_start(
    ngx_http_upstream_lbkit_check_ctx_t *ctx);
static void ngx_http_upstream_lbkit_check_ssl_done(ngx_connection_t *c);
#endif
static uint64_t ngx_http_upstream_lbkit_check_random64(void);
static ngx_flag_t ngx_http_upstream_lbkit_check_is_exiting(void);
static void ngx_http_upstream_lbkit_check_note_lateness(uint64_t due_us,
    uint64_t now_us);


/* ------------------------------------------------------------------ */
/* Worker start and exit                                               */
/* ------------------------------------------------------------------ */

/* This worker's check contexts, for closing them when it exits. */
static ngx_array_t  *ngx_http_upstream_lbkit_check_ctxs;

ngx_int_t
ngx_http_upstream_lbkit_check_init_process(ngx_cycle_t *cycle)
{
    uint32_t                               id;
    ngx_uint_t                             i;
    ngx_http_upstream_lbkit_srv_conf_t   **lscfp, *lscf;
    ngx_http_upstream_lbkit_main_conf_t   *lmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_upstream_lbkit_module);
    if (lmcf == NULL || lmcf->upstreams.nelts == 0) {
        return NGX_OK;
    }

    ngx_http_upstream_lbkit_check_ctxs = ngx_array_create(cycle->pool, 16,
                                 sizeof(ngx_http_upstream_lbkit_check_ctx_t *));
    if (ngx_http_upstream_lbkit_check_ctxs == NULL) {
        return NGX_ERROR;
    }

    lscfp = lmcf->upstreams.elts;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        lscf = lscfp[i];

        if (!lscf->check.enabled || lscf->check.check == NULL
            || lscf->pool == NULL || lscf->check_peers == NULL)
        {
            continue;
        }

        for (id = 0; id < lscf->npeers; id++) {
            if (!lscf->peers[id].used || lscf->peers[id].down) {
                continue;
            }

            /* the check's initial health (initial=down: no requests until
               rise checks pass), unless the pool already has check state
               for the server (another worker, or kept across reload) */
            if (lbk_pool_attach_check(lscf->pool, id, lscf->check.check)
                != LBK_OK)
            {
                ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                              "lbkit: upstream \"%V\" server \"%V\": %s",
                              &lscf->upstream->host, &lscf->peers[id].name,
                              lbk_error_last());
                return NGX_ERROR;
            }

            if (ngx_http_upstream_lbkit_check_init_peer(cycle, lscf, id)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * A worker that exits (quit, reload) may have checks in flight: their
 * timers are cancelable, so nginx does not wait for them.  Close their
 * connections and timers and give up the claims before nginx looks for
 * open sockets (it reports each as an alert), so that another worker takes
 * the peers over at once.
 */
void
ngx_http_upstream_lbkit_check_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                             i;
    ngx_http_upstream_lbkit_check_ctx_t  **ctxp;

    if (ngx_http_upstream_lbkit_check_ctxs == NULL) {
        return;
    }

    ctxp = ngx_http_upstream_lbkit_check_ctxs->elts;

    for (i = 0; i < ngx_http_upstream_lbkit_check_ctxs->nelts; i++) {
        ngx_http_upstream_lbkit_check_release(ctxp[i]);
    }

    ngx_http_upstream_lbkit_check_ctxs = NULL;
}


/* Whether the pool has no check verdict on server @id yet. */
static ngx_flag_t
ngx_http_upstream_lbkit_check_never_checked(
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id)
{
    lbk_peer_info  info;

    info.version = LBK_PEER_INFO_VERSION;

    return lbk_pool_peer_info(&info, lscf->pool, id) == LBK_OK
           && info.health == LBK_HEALTH_UNKNOWN;
}


static ngx_int_t
ngx_http_upstream_lbkit_check_init_peer(ngx_cycle_t *cycle,
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id)
{
    int                                     rc;
    u_char                                 *host;
    size_t                                  len;
    ngx_msec_t                              delay, now, next;
    ngx_pool_cleanup_t                     *cln;
    ngx_http_upstream_lbkit_peer_t         *peer;
    ngx_http_upstream_lbkit_check_ctx_t    *ctx, **ctxp;
    ngx_http_upstream_lbkit_check_extra_t  *extra;

    peer = &lscf->peers[id];
    extra = lscf->check.data;

    if (extra->ctxs == NULL) {
        extra->ctxs = ngx_pcalloc(cycle->pool, lscf->npeers * sizeof(void *));
        if (extra->ctxs == NULL) {
            return NGX_ERROR;
        }
    }

    ctx = ngx_pcalloc(cycle->pool, sizeof(ngx_http_upstream_lbkit_check_ctx_t));
    ctxp = ngx_array_push(ngx_http_upstream_lbkit_check_ctxs);
    if (ctx == NULL || ctxp == NULL) {
        return NGX_ERROR;
    }
    *ctxp = ctx;

    extra->ctxs[id] = ctx;

    ctx->lscf = lscf;
    ctx->extra = extra;
    ctx->peer = peer;
    ctx->shared = &lscf->check_peers[id];
    ctx->id = id;
    ctx->name = peer->address;

    /* the peer's address, or the same host at the check's own port */
    ctx->sockaddr = ngx_pcalloc(cycle->pool, peer->socklen);
    if (ctx->sockaddr == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(ctx->sockaddr, peer->sockaddr, peer->socklen);
    ctx->socklen = peer->socklen;

    if (extra->agent) {
        /* one agent answers for every server */
        ctx->sockaddr = extra->agent->sockaddr;
        ctx->socklen = extra->agent->socklen;
        ctx->name = extra->agent->name;

    } else if (lscf->check.port) {
        ngx_inet_set_port(ctx->sockaddr, lscf->check.port);

        ctx->name.data = ngx_pnalloc(cycle->pool, NGX_SOCKADDR_STRLEN);
        if (ctx->name.data == NULL) {
            return NGX_ERROR;
        }
        ctx->name.len = ngx_sock_ntop(ctx->sockaddr, ctx->socklen,
                                      ctx->name.data, NGX_SOCKADDR_STRLEN, 1);
    }

    host = ngx_pnalloc(cycle->pool, peer->host.len + 1);
    if (host == NULL) {
        return NGX_ERROR;
    }
    *ngx_cpymem(host, peer->host.data, peer->host.len) = '\0';

    if (extra->tls_name.len) {
        ctx->sni = extra->tls_name.data;

    } else if (peer->host.len > 2 && host[0] == '['
               && host[peer->host.len - 1] == ']')
    {
        /* "[::1]" is right for Host:, the certificate names "::1" */
        ctx->sni = ngx_pnalloc(cycle->pool, peer->host.len - 1);
        if (ctx->sni == NULL) {
            return NGX_ERROR;
        }
        *ngx_cpymem(ctx->sni, host + 1, peer->host.len - 2) = '\0';

    } else {
        ctx->sni = host;
    }

    if (lscf->check.opts.kind == LBK_CHECK_AGENT) {
        /* "POOL/SERVER\n", SERVER as written in nginx.conf ("host:port") */
        len = extra->agent_pool.len + 1 + peer->name.len + 1;
        ctx->request = ngx_pnalloc(cycle->pool, len);
        if (ctx->request == NULL) {
            return NGX_ERROR;
        }
        ctx->request_len = ngx_sprintf(ctx->request, "%V%s%V\n",
                                       &extra->agent_pool,
                                       extra->agent_pool.len ? "/" : "",
                                       &peer->name)
                           - ctx->request;
        goto rendered;
    }

    /* the request bytes never change: render them once */
    len = 0;
    rc = lbk_check_request(NULL, &len, lscf->check.check, (const char *) host);
    if (rc != LBK_OK && rc != LBK_ERANGE) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "lbkit: upstream %V server %V: cannot render the check "
                      "request: %s", &lscf->upstream->host, &peer->name,
                      lbk_error_last());
        return NGX_ERROR;
    }

    ctx->request = ngx_pnalloc(cycle->pool, len + 1);
    if (ctx->request == NULL) {
        return NGX_ERROR;
    }
    ctx->request_len = len + 1;
    if (lbk_check_request((char *) ctx->request, &ctx->request_len,
                          lscf->check.check, (const char *) host)
        != LBK_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "lbkit: upstream %V server %V: cannot render the check "
                      "request: %s", &lscf->upstream->host, &peer->name,
                      lbk_error_last());
        return NGX_ERROR;
    }

rendered:

    ctx->recv_buf = ngx_pnalloc(cycle->pool, NGX_HTTP_LBKIT_CHECK_RECV_SIZE);
    if (ctx->recv_buf == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    if (lbk_check_reply_create(&ctx->reply, lscf->check.check) != LBK_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "lbkit: cannot create a check reply reader: %s",
                      lbk_error_last());
        return NGX_ERROR;
    }

    cln->handler = ngx_http_upstream_lbkit_check_free_reply;
    cln->data = ctx->reply;

    /*
     * The socket's log is a copy of the cycle's whose level hides the
     * connect()/recv() errors nginx logs for every failed attempt: the
     * check's verdict carries them, and state changes are logged at notice.
     */
    ctx->conn_log = *cycle->log;
    ctx->conn_log.log_level = ngx_min(cycle->log->log_level, NGX_LOG_CRIT);
    ctx->conn_log.handler = NULL;
    ctx->conn_log.data = NULL;
    ctx->conn_log.action = "lbkit health check";

    ctx->tick.handler = ngx_http_upstream_lbkit_check_tick;
    ctx->tick.data = ctx;
    ctx->tick.log = cycle->log;
    ctx->tick.cancelable = 1;

    ctx->deadline.handler = ngx_http_upstream_lbkit_check_deadline_handler;
    ctx->deadline.data = ctx;
    ctx->deadline.log = cycle->log;
    ctx->deadline.cancelable = 1;

    /*
     * First look: when the schedule in shared memory says (a reload keeps
     * it), else soon, spread over the first interval so that many peers do
     * not start at once.
     */
    now = ngx_current_msec;
    next = (ngx_msec_t) ctx->shared->next_check;

    if (next != 0 && (ngx_msec_int_t) (next - now) > 0
        && next - now < extra->lease)
    {
        delay = next - now;

    } else if (lscf->check.opts.initial_health == LBK_HEALTH_DOWN
               && ngx_http_upstream_lbkit_check_never_checked(lscf, id))
    {
        /*
         * The pool learns a check's initial health from its first report;
         * until then the server counts as unchecked (usable).  Check at
         * once so that initial=down holds after one round trip.
         */
        delay = 1;

    } else {
        delay = 1 + (ngx_msec_t) (ngx_random()
                    % ngx_min(lscf->check.opts.inter_ms, 1000));
    }

    ngx_add_timer(&ctx->tick, delay);

    return NGX_OK;
}


static void
ngx_http_upstream_lbkit_check_free_reply(void *data)
{
    lbk_check_reply_free(data);
}


/* ------------------------------------------------------------------ */
/* Claim and schedule                                                  */
/* ------------------------------------------------------------------ */

/*
 * Whether @ctx no longer checks its id's server: the server left (API, DNS)
 * or the id now names another address (type=agent with agent=: another
 * server name than the one it asks about).
 */
static ngx_flag_t
ngx_http_upstream_lbkit_check_stale(ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    size_t  skip;

    if (!ctx->peer->used) {
        return 1;
    }

    if (ctx->extra->agent) {
        /* the request is "[POOL/]NAME\n" */
        skip = ctx->extra->agent_pool.len + (ctx->extra->agent_pool.len ? 1 : 0);
        return ctx->request_len != skip + ctx->peer->name.len + 1
               || ngx_memcmp(ctx->request + skip, ctx->peer->name.data,
                             ctx->peer->name.len) != 0;
    }

    return ngx_cmp_sockaddr(ctx->peer->sockaddr, ctx->peer->socklen,
                            ctx->sockaddr, ctx->socklen,
                            ctx->lscf->check.port == 0) != NGX_OK;
}


void
ngx_http_upstream_lbkit_check_peer_changed(
    ngx_http_upstream_lbkit_srv_conf_t *lscf, uint32_t id)
{
    ngx_http_upstream_lbkit_check_ctx_t    *ctx;
    ngx_http_upstream_lbkit_check_extra_t  *extra;

    extra = lscf->check.data;

    if (!lscf->check.enabled || extra == NULL || extra->ctxs == NULL
        || id >= lscf->npeers)
    {
        return;     /* no checks, or not a worker that runs them */
    }

    ctx = extra->ctxs[id];

    if (ctx != NULL) {
        if (!ngx_http_upstream_lbkit_check_stale(ctx)) {
            return;
        }
        ngx_http_upstream_lbkit_check_release(ctx);
        extra->ctxs[id] = NULL;
    }

    if (lscf->peers[id].used && !lscf->peers[id].down
        && ngx_http_upstream_lbkit_check_init_peer((ngx_cycle_t *) ngx_cycle,
                                                   lscf, id)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "lbkit: upstream %V server %V: checks not started",
                      &lscf->upstream->host, &lscf->peers[id].name);
    }
}


static void
ngx_http_upstream_lbkit_check_tick(ngx_event_t *ev)
{
    ngx_http_upstream_lbkit_check_ctx_t *ctx = ev->data;

    lbk_peer_info  info;

    ngx_http_upstream_lbkit_check_note_lateness(ctx->tick_due_us,
                                     ngx_http_upstream_lbkit_now_us());

    /* membership changes reach the checks even without traffic */
    ngx_http_upstream_lbkit_api_sync(ctx->lscf);

    if (ngx_http_upstream_lbkit_check_stale(ctx)) {
        ngx_http_upstream_lbkit_check_release(ctx);
        return;
    }

    if (ngx_http_upstream_lbkit_check_is_exiting()) {
        ngx_http_upstream_lbkit_check_release(ctx);
        return;
    }

    if (ctx->running) {
        /* cannot happen: the next tick is set when an attempt ends */
        return;
    }

    if (ngx_http_upstream_lbkit_check_claim(ctx) != NGX_OK) {
        /* another worker checks this peer; look again later */
        ngx_http_upstream_lbkit_check_schedule(ctx,
                                         ctx->lscf->check.opts.inter_ms);
        return;
    }

    info.version = LBK_PEER_INFO_VERSION;

    if (lbk_pool_peer_info(&info, ctx->lscf->pool, ctx->id) == LBK_OK
        && info.admin_state == LBK_ADMIN_MAINT)
    {
        /* maintenance: checks stop, but keep the claim warm */
        ngx_http_upstream_lbkit_check_schedule(ctx,
                                         ctx->lscf->check.opts.inter_ms);
        return;
    }

    ngx_http_upstream_lbkit_check_start(ctx);
}


static ngx_int_t
ngx_http_upstream_lbkit_check_claim(ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    ngx_pid_t                              owner;
    ngx_msec_t                             now, expiry;
    ngx_http_upstream_lbkit_check_peer_t  *shared;

    shared = ctx->shared;
    now = ngx_current_msec;
    owner = (ngx_pid_t) shared->claim_pid;

    if (owner == ngx_pid) {
        shared->claim_expiry = now + ctx->extra->lease;
        return NGX_OK;
    }

    if (owner != 0) {
        expiry = (ngx_msec_t) shared->claim_expiry;

        if ((ngx_msec_int_t) (expiry - now) > 0
            && ngx_http_upstream_lbkit_process_alive(owner))
        {
            return NGX_DECLINED;
        }
    }

    if (!ngx_atomic_cmp_set(&shared->claim_pid, (ngx_atomic_uint_t) owner,
                            (ngx_atomic_uint_t) ngx_pid))
    {
        return NGX_DECLINED;
    }

    shared->claim_expiry = now + ctx->extra->lease;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->tick.log, 0,
                   "lbkit check: worker %P claimed %V (from %P)",
                   ngx_pid, &ctx->name, owner);

    return NGX_OK;
}


static void
ngx_http_upstream_lbkit_check_release(ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    if (ctx->running) {
        ngx_http_upstream_lbkit_check_close(ctx);
    }

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    if (ctx->tick.timer_set) {
        ngx_del_timer(&ctx->tick);
    }

    (void) ngx_atomic_cmp_set(&ctx->shared->claim_pid,
                              (ngx_atomic_uint_t) ngx_pid, 0);
}


static void
ngx_http_upstream_lbkit_check_schedule(ngx_http_upstream_lbkit_check_ctx_t *ctx,
    ngx_msec_t delay)
{
    if (ngx_http_upstream_lbkit_check_is_exiting()) {
        ngx_http_upstream_lbkit_check_release(ctx);
        return;
    }

    if (delay == 0) {
        delay = 1;
    }

    ctx->tick_due_us = ngx_http_upstream_lbkit_now_us()
                       + (uint64_t) delay * 1000;
    ngx_add_timer(&ctx->tick, delay);
}


/* ------------------------------------------------------------------ */
/* One attempt                                                         */
/* ------------------------------------------------------------------ */

static void
ngx_http_upstream_lbkit_check_start(ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    ngx_int_t          rc;
    ngx_err_t          err;
    ngx_connection_t  *c;

    lbk_check_reply_reset(ctx->reply);

    ctx->running = 1;
    ctx->connected = 0;
    ctx->request_sent = 0;
    ctx->sent = 0;
    ctx->received = 0;
    ctx->extended = 0;

    ctx->pool = ngx_create_pool(1024, &ctx->conn_log);
    if (ctx->pool == NULL) {
        ngx_http_upstream_lbkit_check_abandon(ctx, "out of memory");
        return;
    }

    ngx_memzero(&ctx->pc, sizeof(ngx_peer_connection_t));
    ctx->pc.sockaddr = ctx->sockaddr;
    ctx->pc.socklen = ctx->socklen;
    ctx->pc.name = &ctx->name;
    ctx->pc.get = ngx_event_get_peer;
    ctx->pc.log = &ctx->conn_log;
    ctx->pc.log_error = NGX_ERROR_INFO;

    ctx->start_us = ngx_http_upstream_lbkit_now_us();

    rc = ngx_event_connect_peer(&ctx->pc);
    err = ngx_socket_errno;

    if (rc == NGX_DECLINED) {
        /* connect() itself failed: refused, unreachable */
        ngx_http_upstream_lbkit_check_fail(ctx, LBK_CHECK_FAIL_CONNECT, err,
                                           NULL);
        return;
    }

    if (rc != NGX_OK && rc != NGX_AGAIN) {
        /* socket(), worker_connections, event setup: our fault */
        ngx_http_upstream_lbkit_check_abandon(ctx,
                                  "no socket or connection for the check");
        return;
    }

    c = ctx->pc.connection;
    c->data = ctx;
    c->pool = ctx->pool;
    c->read->handler = ngx_http_upstream_lbkit_check_read_handler;
    c->write->handler = ngx_http_upstream_lbkit_check_write_handler;

    ctx->deadline_due_us = ctx->start_us
                           + (uint64_t) ctx->lscf->check.opts.timeout_ms * 1000;
    ngx_add_timer(&ctx->deadline, ctx->lscf->check.opts.timeout_ms);

    if (rc == NGX_OK) {
        ngx_http_upstream_lbkit_check_connected(ctx);
    }

    /* NGX_AGAIN: the write event reports the end of the connect */
}


static void
ngx_http_upstream_lbkit_check_connected(ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    lbk_check_result  result;

    ctx->connected = 1;

    if (lbk_check_kind(ctx->lscf->check.check) == LBK_CHECK_TCP) {
        ngx_memzero(&result, sizeof(lbk_check_result));
        result.version = LBK_CHECK_RESULT_VERSION;
        result.outcome = LBK_CHECK_PASS;
        result.agent_state = -1;
        result.agent_weight_pct = -1;
        result.agent_maxconn = -1;
        ngx_cpystrn((u_char *) result.reason, (u_char *) "connected",
                    sizeof(result.reason));
        ngx_http_upstream_lbkit_check_finish(ctx, &result);
        return;
    }

#if (NGX_HTTP_SSL)
    if (ctx->lscf->check.ssl) {
        ngx_http_upstream_lbkit_check_ssl_start(ctx);
        return;
    }
#endif

    ngx_http_upstream_lbkit_check_send(ctx);
}


/* Handles an event while the non-blocking connect is pending: returns 1
   when the event was the connect's (completed, failed or still pending), 0
   once connected, when the caller's own handling applies. */
static ngx_int_t
ngx_http_upstream_lbkit_check_connecting(
    ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    if (ctx->connected) {
        return 0;
    }

    if (ngx_http_upstream_lbkit_check_test_connect(ctx) == NGX_OK) {
        ngx_http_upstream_lbkit_check_connected(ctx);
    }

    return 1;
}


static void
ngx_http_upstream_lbkit_check_write_handler(ngx_event_t *wev)
{
    ngx_connection_t                     *c = wev->data;
    ngx_http_upstream_lbkit_check_ctx_t  *ctx = c->data;

    if (ngx_http_upstream_lbkit_check_connecting(ctx)) {
        return;
    }

#if (NGX_HTTP_SSL)
    if (c->ssl && !c->ssl->handshaked) {
        return;     /* the handshake handler owns the events until done */
    }
#endif

    if (!ctx->request_sent) {
        ngx_http_upstream_lbkit_check_send(ctx);
    }
}


static void
ngx_http_upstream_lbkit_check_read_handler(ngx_event_t *rev)
{
    ngx_connection_t                     *c = rev->data;
    ngx_http_upstream_lbkit_check_ctx_t  *ctx = c->data;

    if (ngx_http_upstream_lbkit_check_connecting(ctx)) {
        return;
    }

    if (!ctx->request_sent) {
        return;
    }

    ngx_http_upstream_lbkit_check_recv(ctx);
}


/* NGX_OK when the non-blocking connect has succeeded; else the attempt
   has been failed (and finished) here, or NGX_AGAIN: still in progress. */
static ngx_int_t
ngx_http_upstream_lbkit_check_test_connect(
    ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    int                err;
    socklen_t          len;
    struct pollfd      pfd;
    ngx_connection_t  *c;

    c = ctx->pc.connection;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_http_upstream_lbkit_check_fail(ctx, LBK_CHECK_FAIL_CONNECT, err,
                                           NULL);
        return NGX_ERROR;
    }

    /* no error yet: connected only if the socket is writable */
    pfd.fd = c->fd;
    pfd.events = POLLOUT;
    pfd.revents = 0;

    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT)) {
        return NGX_OK;
    }

    return NGX_AGAIN;
}


static void
ngx_http_upstream_lbkit_check_send(ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = ctx->pc.connection;

    while (ctx->sent < ctx->request_len) {
        n = c->send(c, ctx->request + ctx->sent, ctx->request_len - ctx->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_http_upstream_lbkit_check_abandon(ctx,
                                                      "event setup failed");
            }
            return;
        }

        if (n == NGX_ERROR || n <= 0) {
            ngx_http_upstream_lbkit_check_fail(ctx, LBK_CHECK_FAIL_CONNECT,
                                               ngx_socket_errno,
                                               "send failed");
            return;
        }

        ctx->sent += n;
    }

    ctx->request_sent = 1;

    ngx_http_upstream_lbkit_check_recv(ctx);
}


static void
ngx_http_upstream_lbkit_check_recv(ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = ctx->pc.connection;

    /*
     * Bounded: the reply reader returns a verdict once its header and body
     * limits (lbk_check_options max_*_bytes) are exceeded.
     */
    for ( ;; ) {
        n = c->recv(c, ctx->recv_buf, NGX_HTTP_LBKIT_CHECK_RECV_SIZE);

        if (n > 0) {
            ctx->received += n;

            if (lbk_check_reply_feed(ctx->reply, ctx->recv_buf, n) == LBK_OK) {
                ngx_http_upstream_lbkit_check_verdict(ctx);
                return;
            }

            continue;
        }

        if (n == 0) {
            (void) lbk_check_reply_eof(ctx->reply);
            ngx_http_upstream_lbkit_check_verdict(ctx);
            return;
        }

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                ngx_http_upstream_lbkit_check_abandon(ctx,
                                                      "event setup failed");
            }
            return;
        }

        /* NGX_ERROR: a reset */
        if (ctx->received) {
            (void) lbk_check_reply_eof(ctx->reply);
            ngx_http_upstream_lbkit_check_verdict(ctx);

        } else {
            ngx_http_upstream_lbkit_check_fail(ctx, LBK_CHECK_FAIL_CONNECT,
                                               ngx_socket_errno,
                                               "connection reset before a "
                                               "reply");
        }

        return;
    }
}


static void
ngx_http_upstream_lbkit_check_deadline_handler(ngx_event_t *ev)
{
    ngx_http_upstream_lbkit_check_ctx_t *ctx = ev->data;

    char               detail[64];
    uint64_t           now_us, due_us;
    ngx_uint_t         timeout;
    struct pollfd      pfd;
    ngx_connection_t  *c;

    if (!ctx->running) {
        return;
    }

    c = ctx->pc.connection;
    timeout = ctx->lscf->check.opts.timeout_ms;
    now_us = ngx_http_upstream_lbkit_now_us();

    ngx_http_upstream_lbkit_check_note_lateness(ctx->deadline_due_us, now_us);

    /*
     * nginx's cached time may have been stale when the timer was set (the
     * worker was busy before the attempt started): the deadline is measured
     * from the real connect start; wait for the rest if it is early.
     */
    if (now_us < ctx->deadline_due_us) {
        ngx_add_timer(&ctx->deadline, (ngx_msec_t)
                      ((ctx->deadline_due_us - now_us + 999) / 1000));
        return;
    }

    /*
     * Our timer may fire late when the worker was busy: a reply (or the
     * connect) that completed meanwhile still counts.  Give pending I/O one
     * chance before calling it a timeout.
     */
    if (c != NULL) {
        pfd.fd = c->fd;
        pfd.events = POLLIN | POLLOUT;
        pfd.revents = 0;

        /*
         * The connection's current handlers: ours, or nginx's TLS handshake
         * handler while a handshake is in progress.
         */
        if (poll(&pfd, 1, 0) == 1) {
            if ((!ctx->connected || !ctx->request_sent)
                && (pfd.revents & (POLLOUT | POLLERR | POLLHUP)))
            {
                c->write->ready = 1;
                c->write->handler(c->write);
            }

            if (ctx->running && ctx->pc.connection == c
                && (pfd.revents & (POLLIN | POLLERR | POLLHUP)))
            {
                c->read->ready = 1;
                c->read->handler(c->read);
            }

            if (!ctx->running) {
                return;
            }
        }
    }

    /*
     * The worker stalled during this attempt (the request may have left only
     * when it resumed): the peer gets a whole timeout from the moment the
     * stall was seen.  Once per attempt, so a worker that is late all the
     * time still declares hung peers down.
     */
    if (!ctx->extended
        && ngx_http_upstream_lbkit_check_stall_seen_us > ctx->start_us)
    {
        ctx->extended = 1;
        due_us = ngx_http_upstream_lbkit_check_stall_seen_us
                 + (uint64_t) timeout * 1000;

        if (due_us > now_us) {
            ctx->deadline_due_us = due_us;
            ngx_add_timer(&ctx->deadline,
                          (ngx_msec_t) ((due_us - now_us + 999) / 1000));
            return;
        }
    }

    ngx_snprintf((u_char *) detail, sizeof(detail), "after %uims%Z",
                 timeout);

    ngx_http_upstream_lbkit_check_fail(ctx, LBK_CHECK_FAIL_TIMEOUT, 0, detail);
}


#if (NGX_HTTP_SSL)

static void
ngx_http_upstream_lbkit_check_ssl_start(ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = ctx->pc.connection;

    if (ngx_ssl_create_connection(ctx->lscf->check.ssl, c,
                                  NGX_SSL_BUFFER | NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_upstream_lbkit_check_abandon(ctx, "TLS setup failed");
        return;
    }

    /* SNI for names, not for addresses (RFC 6066, section 3) */
    if (ctx->sni && ngx_inet_addr(ctx->sni, ngx_strlen(ctx->sni)) == INADDR_NONE
        && ngx_strchr(ctx->sni, ':') == NULL)
    {
        (void) SSL_set_tlsext_host_name(c->ssl->connection, (char *) ctx->sni);
    }

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_upstream_lbkit_check_ssl_done;
        return;
    }

    ngx_http_upstream_lbkit_check_ssl_done(c);
}


static void
ngx_http_upstream_lbkit_check_ssl_done(ngx_connection_t *c)
{
    ngx_http_upstream_lbkit_check_ctx_t *ctx = c->data;

    long         rc;
    char         detail[LBK_REASON_MAX];
    X509        *cert;
    size_t       name_len;
    ngx_flag_t   matched;

    if (!ctx->running) {
        return;
    }

    if (!c->ssl->handshaked) {
        ngx_http_upstream_lbkit_check_fail(ctx, LBK_CHECK_FAIL_TLS, 0,
                                           "handshake failed");
        return;
    }

    c->read->handler = ngx_http_upstream_lbkit_check_read_handler;
    c->write->handler = ngx_http_upstream_lbkit_check_write_handler;

    if (ctx->extra->tls_verify) {
        rc = SSL_get_verify_result(c->ssl->connection);

        if (rc != X509_V_OK) {
            ngx_snprintf((u_char *) detail, sizeof(detail),
                         "certificate verify failed: %s%Z",
                         X509_verify_cert_error_string(rc));
            ngx_http_upstream_lbkit_check_fail(ctx, LBK_CHECK_FAIL_TLS, 0,
                                               detail);
            return;
        }

        cert = SSL_get_peer_certificate(c->ssl->connection);
        if (cert == NULL) {
            ngx_http_upstream_lbkit_check_fail(ctx, LBK_CHECK_FAIL_TLS, 0,
                                               "no peer certificate");
            return;
        }

        /* an IP address is matched against IP SANs, a name against DNS */
        name_len = ngx_strlen(ctx->sni);
        if (ngx_inet_addr(ctx->sni, name_len) != INADDR_NONE
            || ngx_strchr(ctx->sni, ':') != NULL)
        {
            matched = X509_check_ip_asc(cert, (char *) ctx->sni, 0) == 1;

        } else {
            matched = X509_check_host(cert, (char *) ctx->sni, name_len, 0,
                                      NULL) == 1;
        }

        X509_free(cert);

        if (!matched) {
            ngx_snprintf((u_char *) detail, sizeof(detail),
                         "certificate does not match \"%s\"%Z", ctx->sni);
            ngx_http_upstream_lbkit_check_fail(ctx, LBK_CHECK_FAIL_TLS, 0,
                                               detail);
            return;
        }
    }

    ngx_http_upstream_lbkit_check_send(ctx);
}

#endif


/* ------------------------------------------------------------------ */
/* Verdicts                                                            */
/* ------------------------------------------------------------------ */

static void
ngx_http_upstream_lbkit_check_fail(ngx_http_upstream_lbkit_check_ctx_t *ctx,
    int outcome, ngx_err_t err, const char *what)
{
    u_char            *p, *last;
    char               detail[LBK_REASON_MAX];
    lbk_check_result   result;

    /* liblbkit puts the outcome's phrase ("connect failed: ", "timed out ")
       before this detail */
    last = (u_char *) detail + sizeof(detail) - 1;
    p = (u_char *) detail;

    if (what) {
        p = ngx_cpystrn(p, (u_char *) what, sizeof(detail));
    }

    if (err) {
        if (what) {
            p = ngx_slprintf(p, last, ": ");
        }
        p = ngx_strerror(err, p, last - p);
    }

    *p = '\0';

    ngx_memzero(&result, sizeof(lbk_check_result));
    lbk_check_result_fail(&result, outcome, detail);

    ngx_http_upstream_lbkit_check_finish(ctx, &result);
}


/*
 * The attempt failed on this worker's side (memory, sockets,
 * worker_connections): no verdict on the peer, try again after an interval.
 */
static void
ngx_http_upstream_lbkit_check_abandon(ngx_http_upstream_lbkit_check_ctx_t *ctx,
    const char *why)
{
    ngx_log_error(NGX_LOG_WARN, ctx->tick.log, 0,
                  "lbkit: upstream %V server %V: check not run: %s",
                  &ctx->lscf->upstream->host, &ctx->peer->name, why);

    ngx_http_upstream_lbkit_check_close(ctx);
    ngx_http_upstream_lbkit_check_schedule(ctx,
                                           ctx->lscf->check.opts.inter_ms);
}


static void
ngx_http_upstream_lbkit_check_verdict(ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    lbk_check_result  result;

    ngx_memzero(&result, sizeof(lbk_check_result));
    result.version = LBK_CHECK_RESULT_VERSION;

    if (lbk_check_reply_result(&result, ctx->reply) != LBK_OK) {
        lbk_check_result_fail(&result, LBK_CHECK_FAIL_PROTOCOL,
                              "no verdict on the reply");
    }

    ngx_http_upstream_lbkit_check_finish(ctx, &result);
}


static void
ngx_http_upstream_lbkit_check_close(ngx_http_upstream_lbkit_check_ctx_t *ctx)
{
    ngx_connection_t  *c;

    c = ctx->pc.connection;

    if (c != NULL) {
#if (NGX_HTTP_SSL)
        if (c->ssl) {
            c->ssl->no_wait_shutdown = 1;
            c->ssl->no_send_shutdown = 1;
            (void) ngx_ssl_shutdown(c);
        }
#endif
        ngx_close_connection(c);
        ctx->pc.connection = NULL;
    }

    if (ctx->pool) {
        ngx_destroy_pool(ctx->pool);
        ctx->pool = NULL;
    }

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    ctx->running = 0;
}


static void
ngx_http_upstream_lbkit_check_finish(ngx_http_upstream_lbkit_check_ctx_t *ctx,
    lbk_check_result *result)
{
    int                                    rc;
    uint64_t                               now_us, delay_us;
    ngx_flag_t                             unreachable;
    ngx_msec_t                             delay;
    const char                            *reason;
    lbk_health_event                       event;
    ngx_http_upstream_lbkit_check_peer_t  *shared;

    now_us = ngx_http_upstream_lbkit_now_us();
    result->duration_us = now_us - ctx->start_us;

    ngx_http_upstream_lbkit_check_close(ctx);

    ngx_memzero(&event, sizeof(lbk_health_event));
    event.version = LBK_HEALTH_EVENT_VERSION;

    unreachable = lbk_check_kind(ctx->lscf->check.check) == LBK_CHECK_AGENT
                  && (result->outcome == LBK_CHECK_FAIL_CONNECT
                      || result->outcome == LBK_CHECK_FAIL_TIMEOUT);

    if (unreachable) {
        /* as HAProxy does: no answer from the agent changes nothing; the
           server keeps its last state and the status page says why */
        rc = LBK_OK;
        (void) ngx_snprintf((u_char *) event.reason, sizeof(event.reason) - 1,
                            "agent %V unreachable: %s%Z", &ctx->name,
                            result->reason);

    } else {
        /* the pool's clock is CLOCK_MONOTONIC, the module's: pass ours */
        rc = lbk_pool_report_check_at(&event, ctx->lscf->pool, ctx->id,
                                      ctx->lscf->check.check, result, now_us);
    }

    if (rc != LBK_OK) {
        ngx_log_error(NGX_LOG_ERR, ctx->tick.log, 0,
                      "lbkit: upstream %V server %V: check result not "
                      "recorded: %s", &ctx->lscf->upstream->host,
                      &ctx->peer->name, lbk_error_last());

    } else {
        if (event.changed) {
            ngx_http_upstream_lbkit_log_state(ctx->tick.log, ctx->lscf,
                    ctx->id,
                    event.new_health == LBK_HEALTH_DOWN ? "down" : "up",
                    event.reason);
        }

        /* the pool's verdict: the reply's, or lag */
        result->outcome = event.outcome;
    }

    /* the last-check record, seqlock style (see the header) */
    shared = ctx->shared;

    (void) ngx_atomic_fetch_add(&shared->seq, 1);
    ngx_memory_barrier();

    shared->time_ms = ngx_http_upstream_lbkit_now_ms();
    shared->duration_us = result->duration_us;
    shared->outcome = result->outcome;
    shared->http_status = result->http_status;
    shared->checks++;
    reason = rc == LBK_OK && event.reason[0] ? event.reason : result->reason;
    (void) lbk_utf8_copy((char *) shared->reason, sizeof(shared->reason),
                         reason, ngx_strnlen((u_char *) reason, LBK_REASON_MAX));

    ngx_memory_barrier();
    (void) ngx_atomic_fetch_add(&shared->seq, 1);

    /* the schedule is the pool's: inter while steady, fastinter while the
       health changes, downinter while down, from the state every worker
       shares (a worker that takes the claim over continues it) */
    if (lbk_pool_peer_next_check_delay(&delay_us, ctx->lscf->pool, ctx->id,
                                       ctx->lscf->check.check,
                                       ngx_http_upstream_lbkit_check_random64())
        != LBK_OK)
    {
        delay_us = (uint64_t) ctx->lscf->check.opts.inter_ms * 1000;
    }

    delay = (ngx_msec_t) (delay_us / 1000);

    shared->next_check = ngx_current_msec + delay;

    ngx_http_upstream_lbkit_check_schedule(ctx, delay);
}


/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static uint64_t
ngx_http_upstream_lbkit_check_random64(void)
{
    /* ngx_random() gives 31 bits */
    return ((uint64_t) ngx_random() << 33)
           ^ ((uint64_t) ngx_random() << 11)
           ^ (uint64_t) ngx_random();
}


static ngx_flag_t
ngx_http_upstream_lbkit_check_is_exiting(void)
{
    return ngx_exiting || ngx_quit || ngx_terminate;
}


/* Records a stall when one of our timers, due at @due_us, fires late. */
static void
ngx_http_upstream_lbkit_check_note_lateness(uint64_t due_us, uint64_t now_us)
{
    if (due_us != 0 && now_us > due_us + NGX_HTTP_LBKIT_CHECK_STALL_US) {
        ngx_http_upstream_lbkit_check_stall_seen_us = now_us;
    }
}
