/*
 * ngx_http_upstream_lbkit_status.c - `lbkit_status [json|prometheus|html];`
 * in a location: every lbkit upstream and server, as JSON, Prometheus text
 * exposition (version 0.0.4) or a self-contained HTML dashboard.
 * `?format=` overrides the configured format; `?upstream=NAME` shows one
 * upstream only.
 *
 * The page is built in two steps: a snapshot of every peer (lbk_pool_peer_info
 * and a consistent copy of its last-check record) with per-upstream totals,
 * then one renderer per format.  Prometheus wants the samples of one metric
 * together, so every renderer walks the snapshot rather than the pools.
 *
 * Server states, named as NGINX Plus names them where it has the state:
 *   up         the balancer may pick it (a server at max_conns stays up);
 *   draining   no new requests (admin drain, or an agent's "drain");
 *   down       marked down (the `down` parameter or the API);
 *   unavail    passive failures (max_fails) or outlier ejection;
 *   checking   active checks have not passed `rise` times yet and none
 *              failed (initial=down);
 *   unhealthy  active checks failed;
 *   maint      maintenance (lbkit's own state: no requests, no checks).
 *
 * JSON schema, "schema_version": 2 (every field always present unless noted;
 * units in names; times are Unix epoch milliseconds):
 *   { "schema_version": 2, "version": lbkit version, "nginx_version",
 *     "pid": N, "time_ms",
 *     "upstreams": [ { "name", "method", "servers_total", "servers_up",
 *       "states": { "up": N, "draining": N, "down": N, "unavail": N,
 *                   "checking": N, "unhealthy": N, "maint": N },
 *       "active", "requests", "failures", "responses" { "1xx" .. "5xx",
 *       "total" }, "bytes_sent", "bytes_received" (sums over the servers),
 *       "check": null | { "type", "interval_ms", "timeout_ms", "rise",
 *                         "fall" },
 *       "servers": [ { "id", "name", "address", "backup" (bool),
 *         "state": one of the states above,
 *         "last_state_change_ms": null | N,
 *         "health": "unknown"|"up"|"down", "usable" (bool),
 *         "weight", "effective_weight", "max_conns", "active",
 *         "requests", "successes", "failures", "fails_in_window",
 *         "ewma_latency_us", "probe_latency_us", "checks", "checks_failed",
 *         "ejections", "value": null | N, "lag": null | N,
 *         "responses": { "1xx", "2xx", "3xx", "4xx", "5xx", "total" },
 *         "bytes_sent", "bytes_received",
 *         "header_time_us", "response_time_us" (means; null before any),
 *         "last_selected_ms": null | N, "unavail", "unhealthy" (times
 *         max_fails, active checks took it out), "downtime_ms" (total time
 *         out for health reasons, the current spell included),
 *         "down_since_ms": null | N,
 *         "checker_pid": null | N (the worker that holds the check claim),
 *         "last_check": null | { "time_ms", "age_ms", "ok" (bool),
 *           "result": "pass"|"connect"|"timeout"|"tls"|"dns"|"protocol"|
 *                     "status"|"body"|"jsonrpc"|"lag"|"version"|"limit"|
 *                     "agent",
 *           "http_status": null | N, "duration_us", "reason" } } ] } ] }
 * Schema 1 had no schema_version, states, sums, last_state_change_ms or
 * traffic counters (responses .. down_since_ms), and
 * named states up, down, drain, maint, disabled, ejected, full, failed,
 * unavailable.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_upstream_lbkit.h"


#define NGX_HTTP_LBKIT_STATUS_SCHEMA  2

/* Server states (see the file comment), indexed by LBK_STATE_*. */
const char *ngx_http_upstream_lbkit_state_names[LBK_STATE_COUNT] = {
    "up", "draining", "down", "unavail", "checking", "unhealthy", "maint"
};


/* One server's snapshot. */
typedef struct {
    ngx_http_upstream_lbkit_srv_conf_t    *lscf;
    lbk_peer_info                          info;
    ngx_http_upstream_lbkit_check_peer_t   rec;      /* last check */
    ngx_flag_t                             checked;  /* rec is meaningful */
    ngx_uint_t                             state;    /* LBK_STATE_* */
    uint64_t                               change_ms; /* epoch ms of the last
                                                  state change; 0 unknown */
    uint64_t                               selected_ms; /* epoch ms of the
                                                  last pick; 0 never */
    uint64_t                               down_ms;   /* epoch ms the current
                                                  down spell began; 0 none */
} ngx_http_upstream_lbkit_status_peer_t;


/* One upstream's servers in the snapshot and their sums. */
typedef struct {
    ngx_http_upstream_lbkit_srv_conf_t    *lscf;
    ngx_uint_t                             first;    /* index into peers */
    ngx_uint_t                             count;
    ngx_uint_t                             up;       /* usable now */
    ngx_uint_t                             states[LBK_STATE_COUNT];
    uint64_t                               active;
    uint64_t                               requests;
    uint64_t                               failures;
    uint64_t                               responses[6]; /* 1xx..5xx, total */
    uint64_t                               bytes_sent;
    uint64_t                               bytes_received;
} ngx_http_upstream_lbkit_status_upstream_t;


/* The snapshot every renderer reads. */
typedef struct {
    ngx_array_t                            peers;     /* of ..._status_peer_t */
    ngx_array_t                            upstreams; /* of ..._upstream_t */
    ngx_str_t                              filter;    /* ?upstream=, or empty */
    uint64_t                               now_ms;
} ngx_http_upstream_lbkit_status_t;


/* Output accumulated in a chain of buffers. */
typedef struct {
    ngx_http_request_t    *r;
    ngx_chain_t           *out;
    ngx_chain_t          **last;
    ngx_buf_t             *b;
    off_t                  total;
    ngx_int_t              error;
} ngx_http_upstream_lbkit_sink_t;


#define NGX_HTTP_LBKIT_SINK_CHUNK    16384
#define NGX_HTTP_LBKIT_SINK_LINE     1024    /* bound of one sink_printf */


static ngx_int_t ngx_http_upstream_lbkit_status_format(ngx_http_request_t *r,
    ngx_uint_t *format);
static uint64_t ngx_http_upstream_lbkit_status_epoch_ms(
    ngx_http_upstream_lbkit_status_t *st, uint64_t now_us, uint64_t pool_us);
static ngx_int_t ngx_http_upstream_lbkit_status_snapshot(ngx_http_request_t *r,
    ngx_http_upstream_lbkit_status_t *st);
static void ngx_http_upstream_lbkit_status_read_record(
    ngx_http_upstream_lbkit_check_peer_t *dst,
    ngx_http_upstream_lbkit_check_peer_t *src);
static void ngx_http_upstream_lbkit_status_json(
    ngx_http_upstream_lbkit_sink_t *s, ngx_http_upstream_lbkit_status_t *st);
static void ngx_http_upstream_lbkit_status_prometheus(
    ngx_http_upstream_lbkit_sink_t *s, ngx_http_upstream_lbkit_status_t *st);
static void ngx_http_upstream_lbkit_status_html(
    ngx_http_upstream_lbkit_sink_t *s, ngx_http_upstream_lbkit_status_t *st);

static u_char *ngx_http_upstream_lbkit_sink_reserve(
    ngx_http_upstream_lbkit_sink_t *s, size_t n);
static void ngx_http_upstream_lbkit_sink_printf(
    ngx_http_upstream_lbkit_sink_t *s, const char *fmt, ...);
static void ngx_http_upstream_lbkit_sink_text(
    ngx_http_upstream_lbkit_sink_t *s, const char *text);
static void ngx_http_upstream_lbkit_sink_json_string(
    ngx_http_upstream_lbkit_sink_t *s, u_char *str, size_t len);
static void ngx_http_upstream_lbkit_sink_label(
    ngx_http_upstream_lbkit_sink_t *s, u_char *str, size_t len);
static void ngx_http_upstream_lbkit_sink_html(
    ngx_http_upstream_lbkit_sink_t *s, u_char *str, size_t len);


static const char *ngx_http_upstream_lbkit_health_names[] = {
    "unknown", "up", "down"
};

static const char *ngx_http_upstream_lbkit_classes[] = {
    "1xx", "2xx", "3xx", "4xx", "5xx"
};


#define ngx_http_upstream_lbkit_name_of(table, i)                             \
    (((size_t) (i) < sizeof(table) / sizeof(table[0])) ? table[i] : "unknown")


/* ------------------------------------------------------------------ */
/* Directive                                                           */
/* ------------------------------------------------------------------ */

char *
ngx_http_upstream_lbkit_status_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upstream_lbkit_loc_conf_t *llcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (llcf->status) {
        return "is duplicate";
    }

    value = cf->args->elts;
    llcf->status_format = NGX_HTTP_LBKIT_STATUS_JSON;

    if (cf->args->nelts > 1) {
        if (ngx_strcmp(value[1].data, "json") == 0) {
            llcf->status_format = NGX_HTTP_LBKIT_STATUS_JSON;

        } else if (ngx_strcmp(value[1].data, "prometheus") == 0) {
            llcf->status_format = NGX_HTTP_LBKIT_STATUS_PROMETHEUS;

        } else if (ngx_strcmp(value[1].data, "html") == 0) {
            llcf->status_format = NGX_HTTP_LBKIT_STATUS_HTML;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid format \"%V\": json, prometheus or "
                               "html is expected", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    llcf->status = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_upstream_lbkit_status_handler;

    return NGX_CONF_OK;
}


/* ------------------------------------------------------------------ */
/* Handler                                                             */
/* ------------------------------------------------------------------ */

ngx_int_t
ngx_http_upstream_lbkit_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_uint_t                         format;
    ngx_http_upstream_lbkit_sink_t     sink;
    ngx_http_upstream_lbkit_status_t   st;

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_upstream_lbkit_status_format(r, &format) != NGX_OK) {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_upstream_lbkit_status_snapshot(r, &st) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (st.filter.len && st.upstreams.nelts == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "lbkit_status: no lbkit upstream \"%V\"", &st.filter);
        return NGX_HTTP_NOT_FOUND;
    }

    ngx_memzero(&sink, sizeof(ngx_http_upstream_lbkit_sink_t));
    sink.r = r;
    sink.last = &sink.out;

    switch (format) {

    case NGX_HTTP_LBKIT_STATUS_PROMETHEUS:
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");
        ngx_http_upstream_lbkit_status_prometheus(&sink, &st);
        break;

    case NGX_HTTP_LBKIT_STATUS_HTML:
        ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
        ngx_http_upstream_lbkit_status_html(&sink, &st);
        break;

    default:
        ngx_str_set(&r->headers_out.content_type, "application/json");
        ngx_http_upstream_lbkit_status_json(&sink, &st);
        break;
    }

    if (sink.error || sink.b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = sink.total;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    sink.b->last_buf = (r == r->main) ? 1 : 0;
    sink.b->last_in_chain = 1;

    return ngx_http_output_filter(r, sink.out);
}


/* The configured format, or the one `?format=` asks for. */
static ngx_int_t
ngx_http_upstream_lbkit_status_format(ngx_http_request_t *r, ngx_uint_t *format)
{
    ngx_str_t                            arg;
    ngx_http_upstream_lbkit_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_upstream_lbkit_module);

    *format = llcf->status_format == NGX_CONF_UNSET_UINT
              ? NGX_HTTP_LBKIT_STATUS_JSON : llcf->status_format;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) != NGX_OK) {
        return NGX_OK;
    }

    if (arg.len == 4 && ngx_strncmp(arg.data, "json", 4) == 0) {
        *format = NGX_HTTP_LBKIT_STATUS_JSON;

    } else if ((arg.len == 10 && ngx_strncmp(arg.data, "prometheus", 10) == 0)
               || (arg.len == 4 && ngx_strncmp(arg.data, "prom", 4) == 0))
    {
        *format = NGX_HTTP_LBKIT_STATUS_PROMETHEUS;

    } else if (arg.len == 4 && ngx_strncmp(arg.data, "html", 4) == 0) {
        *format = NGX_HTTP_LBKIT_STATUS_HTML;

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "lbkit_status: unknown format \"%V\" (json, prometheus "
                      "or html)", &arg);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* ------------------------------------------------------------------ */
/* Snapshot                                                            */
/* ------------------------------------------------------------------ */

/*
 * The pool keeps CLOCK_MONOTONIC microseconds: @pool_us as Unix epoch
 * milliseconds is its age subtracted from now; 0 (never) stays 0.
 */
static uint64_t
ngx_http_upstream_lbkit_status_epoch_ms(ngx_http_upstream_lbkit_status_t *st,
    uint64_t now_us, uint64_t pool_us)
{
    uint64_t  age_ms;

    if (pool_us == 0 || pool_us > now_us) {
        return 0;
    }

    age_ms = (now_us - pool_us) / 1000;

    return age_ms < st->now_ms ? st->now_ms - age_ms : 0;
}


static ngx_int_t
ngx_http_upstream_lbkit_status_snapshot(ngx_http_request_t *r,
    ngx_http_upstream_lbkit_status_t *st)
{
    u_char                                     *dst, *src;
    uint32_t                                    id;
    uint64_t                                    now_us;
    ngx_str_t                                   arg;
    ngx_uint_t                                  i, k;
    ngx_http_upstream_lbkit_srv_conf_t        **lscfp, *lscf;
    ngx_http_upstream_lbkit_main_conf_t        *lmcf;
    ngx_http_upstream_lbkit_status_peer_t      *sp;
    ngx_http_upstream_lbkit_status_upstream_t  *up;

    if (ngx_array_init(&st->peers, r->pool, 16,
                       sizeof(ngx_http_upstream_lbkit_status_peer_t))
        != NGX_OK
        || ngx_array_init(&st->upstreams, r->pool, 4,
                          sizeof(ngx_http_upstream_lbkit_status_upstream_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_null(&st->filter);

    if (ngx_http_arg(r, (u_char *) "upstream", 8, &arg) == NGX_OK) {
        st->filter.data = ngx_pnalloc(r->pool, arg.len);
        if (st->filter.data == NULL) {
            return NGX_ERROR;
        }

        dst = st->filter.data;
        src = arg.data;
        ngx_unescape_uri(&dst, &src, arg.len, NGX_UNESCAPE_URI);
        st->filter.len = dst - st->filter.data;
    }

    st->now_ms = ngx_http_upstream_lbkit_now_ms();

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_upstream_lbkit_module);
    if (lmcf == NULL) {
        return NGX_OK;
    }

    now_us = ngx_http_upstream_lbkit_now_us();     /* the pools' clock */

    lscfp = lmcf->upstreams.elts;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        lscf = lscfp[i];

        if (lscf->pool == NULL) {
            continue;
        }

        if (st->filter.len
            && (st->filter.len != lscf->upstream->host.len
                || ngx_strncmp(st->filter.data, lscf->upstream->host.data,
                               st->filter.len) != 0))
        {
            continue;
        }

        up = ngx_array_push(&st->upstreams);
        if (up == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(up, sizeof(ngx_http_upstream_lbkit_status_upstream_t));
        up->lscf = lscf;
        up->first = st->peers.nelts;

        for (id = lbk_pool_next(lscf->pool, LBK_PEER_NONE);
             id != LBK_PEER_NONE;
             id = lbk_pool_next(lscf->pool, id))
        {
            sp = ngx_array_push(&st->peers);
            if (sp == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(sp, sizeof(ngx_http_upstream_lbkit_status_peer_t));
            sp->lscf = lscf;
            sp->info.version = LBK_PEER_INFO_VERSION;

            if (lbk_pool_peer_info(&sp->info, lscf->pool, id) != LBK_OK) {
                /* removed meanwhile */
                st->peers.nelts--;
                continue;
            }

            if (lscf->check_peers && id < lscf->npeers) {
                ngx_http_upstream_lbkit_status_read_record(&sp->rec,
                                                    &lscf->check_peers[id]);
                sp->checked = sp->rec.time_ms != 0;
            }

            sp->state = ngx_http_upstream_lbkit_peer_state(lscf, &sp->info);

            sp->change_ms = ngx_http_upstream_lbkit_status_epoch_ms(st,
                                            now_us, sp->info.last_change_us);
            sp->selected_ms = ngx_http_upstream_lbkit_status_epoch_ms(st,
                                            now_us, sp->info.last_selected_us);
            sp->down_ms = ngx_http_upstream_lbkit_status_epoch_ms(st,
                                            now_us, sp->info.down_since_us);

            up->count++;
            up->up += sp->info.usable ? 1 : 0;
            up->states[sp->state]++;
            up->active += sp->info.active;
            up->requests += sp->info.requests;
            up->failures += sp->info.failures;
            up->bytes_sent += sp->info.bytes_sent;
            up->bytes_received += sp->info.bytes_received;

            for (k = 0; k < 5; k++) {
                up->responses[k] += sp->info.responses[k];
            }

            up->responses[5] += sp->info.responses_total;
        }
    }

    return NGX_OK;
}


/*
 * Copies a last-check record written seqlock style by the checking worker:
 * retries (bounded) while a write is in progress or happened meanwhile, then
 * accepts the copy; the reason is always NUL-terminated.
 */
static void
ngx_http_upstream_lbkit_status_read_record(
    ngx_http_upstream_lbkit_check_peer_t *dst,
    ngx_http_upstream_lbkit_check_peer_t *src)
{
    ngx_uint_t         attempt;
    ngx_atomic_uint_t  before, after;

    for (attempt = 0; attempt < 16; attempt++) {
        before = src->seq;
        ngx_memory_barrier();

        ngx_memcpy(dst, src, sizeof(ngx_http_upstream_lbkit_check_peer_t));

        ngx_memory_barrier();
        after = src->seq;

        if (before == after && (before & 1) == 0) {
            break;
        }
    }

    dst->reason[sizeof(dst->reason) - 1] = '\0';
}


/*
 * The server's state (LBK_STATE_*; see the file comment); the status page
 * and the Plus-style API both name a server's state with this.
 */
ngx_uint_t
ngx_http_upstream_lbkit_peer_state(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    lbk_peer_info *info)
{
    switch (info->admin_state) {
    case LBK_ADMIN_DRAIN:
        return LBK_STATE_DRAINING;
    case LBK_ADMIN_MAINT:
        return LBK_STATE_MAINT;
    case LBK_ADMIN_DOWN:
        return LBK_STATE_DOWN;
    default:
        break;
    }

    if (info->health == LBK_HEALTH_DOWN) {
        return (lscf->check.enabled && info->checks_failed == 0)
               ? LBK_STATE_CHECKING : LBK_STATE_UNHEALTHY;
    }

    if (info->usable
        || (info->max_conns && info->active >= info->max_conns))
    {
        return LBK_STATE_UP;
    }

    return LBK_STATE_UNAVAIL;
}


/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

/* `"responses":{"1xx":N,..,"5xx":N,"total":N}` */
static void
ngx_http_upstream_lbkit_status_json_responses(
    ngx_http_upstream_lbkit_sink_t *s, uint64_t *by_class, uint64_t total)
{
    ngx_http_upstream_lbkit_sink_printf(s,
        "\"responses\":{\"1xx\":%uL,\"2xx\":%uL,\"3xx\":%uL,\"4xx\":%uL,"
        "\"5xx\":%uL,\"total\":%uL}", by_class[0], by_class[1], by_class[2],
        by_class[3], by_class[4], total);
}


/* `"NAME":N,`, or `"NAME":null,` for 0 (none). */
static void
ngx_http_upstream_lbkit_status_json_number(ngx_http_upstream_lbkit_sink_t *s,
    const char *name, uint64_t value)
{
    if (value) {
        ngx_http_upstream_lbkit_sink_printf(s, "\"%s\":%uL,", name, value);
    } else {
        ngx_http_upstream_lbkit_sink_printf(s, "\"%s\":null,", name);
    }
}


static void
ngx_http_upstream_lbkit_status_json(ngx_http_upstream_lbkit_sink_t *s,
    ngx_http_upstream_lbkit_status_t *st)
{
    ngx_uint_t                                  i, j, k;
    lbk_peer_info                              *in;
    lbk_check_options                          *co;
    ngx_http_upstream_lbkit_srv_conf_t         *lscf;
    ngx_http_upstream_lbkit_status_peer_t      *sp, *p;
    ngx_http_upstream_lbkit_status_upstream_t  *ups, *up;

    sp = st->peers.elts;
    ups = st->upstreams.elts;

    ngx_http_upstream_lbkit_sink_printf(s,
        "{\"schema_version\":%d,\"version\":\"%s\",\"nginx_version\":\"%s\","
        "\"pid\":%P,\"time_ms\":%uL,\"upstreams\":[",
        NGX_HTTP_LBKIT_STATUS_SCHEMA, lbk_version(), NGINX_VERSION, ngx_pid,
        st->now_ms);

    for (i = 0; i < st->upstreams.nelts; i++) {
        up = &ups[i];
        lscf = up->lscf;

        ngx_http_upstream_lbkit_sink_printf(s, "%s{\"name\":",
                                            i ? "," : "");
        ngx_http_upstream_lbkit_sink_json_string(s, lscf->upstream->host.data,
                                                 lscf->upstream->host.len);
        ngx_http_upstream_lbkit_sink_printf(s,
            ",\"method\":\"%s\",\"servers_total\":%ui,\"servers_up\":%ui,"
            "\"states\":{", lbk_pool_method(lscf->pool), up->count, up->up);

        for (k = 0; k < LBK_STATE_COUNT; k++) {
            ngx_http_upstream_lbkit_sink_printf(s, "%s\"%s\":%ui",
                k ? "," : "", ngx_http_upstream_lbkit_state_names[k],
                up->states[k]);
        }

        ngx_http_upstream_lbkit_sink_printf(s,
            "},\"active\":%uL,\"requests\":%uL,\"failures\":%uL,",
            up->active, up->requests, up->failures);
        ngx_http_upstream_lbkit_status_json_responses(s, up->responses,
                                                      up->responses[5]);
        ngx_http_upstream_lbkit_sink_printf(s,
            ",\"bytes_sent\":%uL,\"bytes_received\":%uL,\"check\":",
            up->bytes_sent, up->bytes_received);

        if (lscf->check.enabled) {
            co = &lscf->check.opts;
            ngx_http_upstream_lbkit_sink_printf(s,
                "{\"type\":\"%s\",\"interval_ms\":%uD,\"timeout_ms\":%uD,"
                "\"rise\":%uD,\"fall\":%uD}",
                lbk_check_kind_name(co->kind),
                co->inter_ms, co->timeout_ms, co->rise, co->fall);

        } else {
            ngx_http_upstream_lbkit_sink_printf(s, "null");
        }

        ngx_http_upstream_lbkit_sink_printf(s, ",\"servers\":[");

        for (j = 0; j < up->count; j++) {
            p = &sp[up->first + j];
            in = &p->info;

            ngx_http_upstream_lbkit_sink_printf(s, "%s{\"id\":%uD,\"name\":",
                                                j ? "," : "", in->id);
            ngx_http_upstream_lbkit_sink_json_string(s, (u_char *) in->name,
                                                     ngx_strlen(in->name));
            ngx_http_upstream_lbkit_sink_printf(s, ",\"address\":");
            ngx_http_upstream_lbkit_sink_json_string(s, (u_char *) in->address,
                                                     ngx_strlen(in->address));

            ngx_http_upstream_lbkit_sink_printf(s,
                ",\"backup\":%s,\"state\":\"%s\",\"last_state_change_ms\":",
                in->backup ? "true" : "false",
                ngx_http_upstream_lbkit_state_names[p->state]);

            if (p->change_ms) {
                ngx_http_upstream_lbkit_sink_printf(s, "%uL", p->change_ms);
            } else {
                ngx_http_upstream_lbkit_sink_printf(s, "null");
            }

            ngx_http_upstream_lbkit_sink_printf(s,
                ",\"health\":\"%s\","
                "\"usable\":%s,\"weight\":%uD,\"effective_weight\":%uD,"
                "\"max_conns\":%uD,\"active\":%uD,\"requests\":%uL,"
                "\"successes\":%uL,\"failures\":%uL,\"fails_in_window\":%uD,",
                ngx_http_upstream_lbkit_name_of(
                    ngx_http_upstream_lbkit_health_names, in->health),
                in->usable ? "true" : "false", in->weight,
                in->effective_weight, in->max_conns, in->active,
                in->requests, in->successes, in->failures,
                in->fails_in_window);

            ngx_http_upstream_lbkit_sink_printf(s,
                "\"ewma_latency_us\":%uL,\"probe_latency_us\":%uL,"
                "\"checks\":%uL,\"checks_failed\":%uL,\"ejections\":%uD,",
                in->ewma_latency_us, in->probe_latency_us, in->checks,
                in->checks_failed, in->ejections);

            if (in->has_value) {
                ngx_http_upstream_lbkit_sink_printf(s,
                    "\"value\":%L,\"lag\":%L,", in->value, in->lag);

            } else {
                ngx_http_upstream_lbkit_sink_printf(s,
                                            "\"value\":null,\"lag\":null,");
            }

            ngx_http_upstream_lbkit_status_json_responses(s, in->responses,
                                                          in->responses_total);
            ngx_http_upstream_lbkit_sink_printf(s,
                ",\"bytes_sent\":%uL,\"bytes_received\":%uL,",
                in->bytes_sent, in->bytes_received);
            ngx_http_upstream_lbkit_status_json_number(s, "header_time_us",
                                                       in->header_time_avg_us);
            ngx_http_upstream_lbkit_status_json_number(s, "response_time_us",
                                                    in->response_time_avg_us);
            ngx_http_upstream_lbkit_status_json_number(s, "last_selected_ms",
                                                       p->selected_ms);
            ngx_http_upstream_lbkit_sink_printf(s,
                "\"unavail\":%uL,\"unhealthy\":%uL,\"downtime_ms\":%uL,",
                in->unavail, in->unhealthy, in->downtime_us / 1000);
            ngx_http_upstream_lbkit_status_json_number(s, "down_since_ms",
                                                       p->down_ms);

            if (lscf->check.enabled && p->rec.claim_pid) {
                ngx_http_upstream_lbkit_sink_printf(s, "\"checker_pid\":%P,",
                                            (ngx_pid_t) p->rec.claim_pid);
            } else {
                ngx_http_upstream_lbkit_sink_printf(s, "\"checker_pid\":null,");
            }

            if (!p->checked) {
                ngx_http_upstream_lbkit_sink_printf(s, "\"last_check\":null}");
                continue;
            }

            ngx_http_upstream_lbkit_sink_printf(s,
                "\"last_check\":{\"time_ms\":%uL,\"age_ms\":%uL,\"ok\":%s,"
                "\"result\":\"%s\",\"duration_us\":%uL,\"http_status\":",
                p->rec.time_ms,
                st->now_ms > p->rec.time_ms ? st->now_ms - p->rec.time_ms : 0,
                p->rec.outcome == LBK_CHECK_PASS ? "true" : "false",
                lbk_check_outcome_name(p->rec.outcome),
                p->rec.duration_us);

            if (p->rec.http_status) {
                ngx_http_upstream_lbkit_sink_printf(s, "%D",
                                                    p->rec.http_status);
            } else {
                ngx_http_upstream_lbkit_sink_printf(s, "null");
            }

            ngx_http_upstream_lbkit_sink_printf(s, ",\"reason\":");
            ngx_http_upstream_lbkit_sink_json_string(s, p->rec.reason,
                                            ngx_strlen(p->rec.reason));
            ngx_http_upstream_lbkit_sink_printf(s, "}}");
        }

        ngx_http_upstream_lbkit_sink_printf(s, "]}");
    }

    ngx_http_upstream_lbkit_sink_printf(s, "]}\n");
}


/* ------------------------------------------------------------------ */
/* Prometheus text exposition                                          */
/* ------------------------------------------------------------------ */

typedef enum {
    LBK_METRIC_UP,
    LBK_METRIC_HEALTHY,
    LBK_METRIC_STATE,
    LBK_METRIC_LAST_CHANGE,
    LBK_METRIC_WEIGHT,
    LBK_METRIC_EFFECTIVE_WEIGHT,
    LBK_METRIC_MAX_CONNS,
    LBK_METRIC_BACKUP,
    LBK_METRIC_ACTIVE,
    LBK_METRIC_REQUESTS,
    LBK_METRIC_FAILURES,
    LBK_METRIC_EWMA,
    LBK_METRIC_PROBE_LATENCY,
    LBK_METRIC_CHECKS,
    LBK_METRIC_LAST_CHECK_TIME,
    LBK_METRIC_LAST_CHECK_OK,
    LBK_METRIC_LAST_CHECK_DURATION,
    LBK_METRIC_LAST_CHECK_STATUS,
    LBK_METRIC_EJECTIONS,
    LBK_METRIC_VALUE,
    LBK_METRIC_LAG,
    LBK_METRIC_RESPONSES,
    LBK_METRIC_BYTES_SENT,
    LBK_METRIC_BYTES_RECEIVED,
    LBK_METRIC_HEADER_TIME,
    LBK_METRIC_RESPONSE_TIME,
    LBK_METRIC_LAST_SELECTED,
    LBK_METRIC_UNAVAIL,
    LBK_METRIC_UNHEALTHY,
    LBK_METRIC_DOWNTIME
} ngx_http_upstream_lbkit_metric_e;

typedef struct {
    ngx_http_upstream_lbkit_metric_e   metric;
    const char                        *name;
    const char                        *type;
    const char                        *help;
} ngx_http_upstream_lbkit_metric_t;

static ngx_http_upstream_lbkit_metric_t  ngx_http_upstream_lbkit_metrics[] = {
    { LBK_METRIC_UP, "lbkit_server_up", "gauge",
      "1 when the balancer may pick the server now, else 0." },
    { LBK_METRIC_HEALTHY, "lbkit_server_healthy", "gauge",
      "Active-check health: 1 up or never checked, 0 down." },
    { LBK_METRIC_STATE, "lbkit_server_state", "gauge",
      "Server state as a state set: 1 for the current state, 0 for the "
      "others." },
    { LBK_METRIC_LAST_CHANGE,
      "lbkit_server_last_state_change_timestamp_seconds", "gauge",
      "Unix time of the last health or admin state change." },
    { LBK_METRIC_WEIGHT, "lbkit_server_weight", "gauge",
      "Configured weight." },
    { LBK_METRIC_EFFECTIVE_WEIGHT, "lbkit_server_effective_weight", "gauge",
      "Weight after slow start and agent percentage." },
    { LBK_METRIC_MAX_CONNS, "lbkit_server_max_conns", "gauge",
      "Limit of active requests (0: none)." },
    { LBK_METRIC_BACKUP, "lbkit_server_backup", "gauge",
      "1 for a backup server, else 0." },
    { LBK_METRIC_ACTIVE, "lbkit_server_active", "gauge",
      "Requests in flight to the server." },
    { LBK_METRIC_REQUESTS, "lbkit_server_requests_total", "counter",
      "Requests sent to the server." },
    { LBK_METRIC_FAILURES, "lbkit_server_failures_total", "counter",
      "Requests to the server that failed." },
    { LBK_METRIC_EWMA, "lbkit_server_ewma_latency_seconds", "gauge",
      "Peak-EWMA of request latency." },
    { LBK_METRIC_PROBE_LATENCY, "lbkit_server_check_latency_seconds", "gauge",
      "Recent active-check latency." },
    { LBK_METRIC_CHECKS, "lbkit_server_checks_total", "counter",
      "Active checks of the server by result (success, failure)." },
    { LBK_METRIC_LAST_CHECK_TIME,
      "lbkit_server_last_check_timestamp_seconds", "gauge",
      "Unix time of the last check (absent if never checked)." },
    { LBK_METRIC_LAST_CHECK_OK, "lbkit_server_last_check_success", "gauge",
      "1 if the last check passed, else 0 (absent if never checked)." },
    { LBK_METRIC_LAST_CHECK_DURATION,
      "lbkit_server_last_check_duration_seconds", "gauge",
      "Duration of the last check (absent if never checked)." },
    { LBK_METRIC_LAST_CHECK_STATUS,
      "lbkit_server_last_check_http_status_code", "gauge",
      "HTTP status of the last check (absent without one)." },
    { LBK_METRIC_EJECTIONS, "lbkit_server_ejections_total", "counter",
      "Outlier ejections of the server." },
    { LBK_METRIC_VALUE, "lbkit_server_value", "gauge",
      "Last numeric value of a JSON-RPC check (head block)." },
    { LBK_METRIC_LAG, "lbkit_server_lag", "gauge",
      "Best healthy server's value minus this server's." },
    { LBK_METRIC_RESPONSES, "lbkit_server_responses_total", "counter",
      "Responses from the server by status class (label code: 1xx..5xx)." },
    { LBK_METRIC_BYTES_SENT, "lbkit_server_sent_bytes_total", "counter",
      "Bytes sent to the server." },
    { LBK_METRIC_BYTES_RECEIVED, "lbkit_server_received_bytes_total",
      "counter", "Bytes received from the server." },
    { LBK_METRIC_HEADER_TIME, "lbkit_server_header_time_seconds", "gauge",
      "Mean time to the end of the response header (absent before any)." },
    { LBK_METRIC_RESPONSE_TIME, "lbkit_server_response_time_seconds", "gauge",
      "Mean time to the end of the response (absent before any)." },
    { LBK_METRIC_LAST_SELECTED,
      "lbkit_server_last_selected_timestamp_seconds", "gauge",
      "Unix time of the last pick of the server (absent if never)." },
    { LBK_METRIC_UNAVAIL, "lbkit_server_unavail_total", "counter",
      "Times max_fails made the server unavailable." },
    { LBK_METRIC_UNHEALTHY, "lbkit_server_unhealthy_total", "counter",
      "Times active checks took the server down." },
    { LBK_METRIC_DOWNTIME, "lbkit_server_downtime_seconds_total", "counter",
      "Time the server was out for health reasons (the current spell "
      "included)." },
};


/* `NAME{upstream="U",server="S"` then `,LABEL="VALUE"` when given, `} `. */
static void
ngx_http_upstream_lbkit_status_series(ngx_http_upstream_lbkit_sink_t *s,
    const char *name, ngx_http_upstream_lbkit_status_peer_t *sp,
    const char *label, const char *value)
{
    ngx_http_upstream_lbkit_sink_printf(s, "%s{upstream=\"", name);
    ngx_http_upstream_lbkit_sink_label(s, sp->lscf->upstream->host.data,
                                       sp->lscf->upstream->host.len);
    ngx_http_upstream_lbkit_sink_printf(s, "\",server=\"");
    ngx_http_upstream_lbkit_sink_label(s, (u_char *) sp->info.name,
                                       ngx_strlen(sp->info.name));

    if (label) {
        ngx_http_upstream_lbkit_sink_printf(s, "\",%s=\"%s", label, value);
    }

    ngx_http_upstream_lbkit_sink_printf(s, "\"} ");
}


/* Microseconds as seconds: "1.000250". */
static void
ngx_http_upstream_lbkit_status_seconds(ngx_http_upstream_lbkit_sink_t *s,
    uint64_t us)
{
    ngx_http_upstream_lbkit_sink_printf(s, "%uL.%06uL\n", us / 1000000,
                                        us % 1000000);
}


static void
ngx_http_upstream_lbkit_status_prometheus(ngx_http_upstream_lbkit_sink_t *s,
    ngx_http_upstream_lbkit_status_t *st)
{
    ngx_uint_t                              i, m, k;
    lbk_peer_info                          *in;
    ngx_http_upstream_lbkit_metric_t       *metric;
    ngx_http_upstream_lbkit_status_peer_t  *sp;

    sp = st->peers.elts;

    ngx_http_upstream_lbkit_sink_printf(s,
        "# HELP lbkit_build_info lbkit and nginx versions of the module "
        "(always 1).\n# TYPE lbkit_build_info gauge\n"
        "lbkit_build_info{version=\"%s\",nginx_version=\"%s\","
        "schema_version=\"%d\"} 1\n",
        lbk_version(), NGINX_VERSION, NGX_HTTP_LBKIT_STATUS_SCHEMA);

    for (m = 0; m < sizeof(ngx_http_upstream_lbkit_metrics)
                    / sizeof(ngx_http_upstream_lbkit_metrics[0]); m++)
    {
        metric = &ngx_http_upstream_lbkit_metrics[m];

        ngx_http_upstream_lbkit_sink_printf(s, "# HELP %s %s\n# TYPE %s %s\n",
                                            metric->name, metric->help,
                                            metric->name, metric->type);

        for (i = 0; i < st->peers.nelts; i++) {
            in = &sp[i].info;

            switch (metric->metric) {

            case LBK_METRIC_STATE:
                for (k = 0; k < LBK_STATE_COUNT; k++) {
                    ngx_http_upstream_lbkit_status_series(s, metric->name,
                        &sp[i], "state",
                        ngx_http_upstream_lbkit_state_names[k]);
                    ngx_http_upstream_lbkit_sink_printf(s, "%d\n",
                                                        sp[i].state == k);
                }
                continue;

            case LBK_METRIC_CHECKS:
                ngx_http_upstream_lbkit_status_series(s, metric->name,
                                                      &sp[i], "result",
                                                      "success");
                ngx_http_upstream_lbkit_sink_printf(s, "%uL\n",
                    in->checks > in->checks_failed
                    ? in->checks - in->checks_failed : 0);
                ngx_http_upstream_lbkit_status_series(s, metric->name,
                                                      &sp[i], "result",
                                                      "failure");
                ngx_http_upstream_lbkit_sink_printf(s, "%uL\n",
                                                    in->checks_failed);
                continue;

            case LBK_METRIC_RESPONSES:
                for (k = 0; k < 5; k++) {
                    ngx_http_upstream_lbkit_status_series(s, metric->name,
                        &sp[i], "code", ngx_http_upstream_lbkit_classes[k]);
                    ngx_http_upstream_lbkit_sink_printf(s, "%uL\n",
                                                        in->responses[k]);
                }
                continue;

            case LBK_METRIC_LAST_CHANGE:
                if (sp[i].change_ms == 0) {
                    continue;
                }
                break;

            case LBK_METRIC_LAST_SELECTED:
                if (sp[i].selected_ms == 0) {
                    continue;
                }
                break;

            case LBK_METRIC_HEADER_TIME:
                if (in->header_time_avg_us == 0) {
                    continue;
                }
                break;

            case LBK_METRIC_RESPONSE_TIME:
                if (in->response_time_avg_us == 0) {
                    continue;
                }
                break;

            case LBK_METRIC_LAST_CHECK_TIME:
            case LBK_METRIC_LAST_CHECK_OK:
            case LBK_METRIC_LAST_CHECK_DURATION:
                if (!sp[i].checked) {
                    continue;
                }
                break;

            case LBK_METRIC_LAST_CHECK_STATUS:
                if (!sp[i].checked || sp[i].rec.http_status == 0) {
                    continue;
                }
                break;

            case LBK_METRIC_VALUE:
            case LBK_METRIC_LAG:
                if (!in->has_value) {
                    continue;
                }
                break;

            default:
                break;
            }

            ngx_http_upstream_lbkit_status_series(s, metric->name, &sp[i],
                                                  NULL, NULL);

            switch (metric->metric) {

            case LBK_METRIC_UP:
                ngx_http_upstream_lbkit_sink_printf(s, "%d\n",
                                                    in->usable ? 1 : 0);
                break;

            case LBK_METRIC_HEALTHY:
                ngx_http_upstream_lbkit_sink_printf(s, "%d\n",
                    in->health == LBK_HEALTH_DOWN ? 0 : 1);
                break;

            case LBK_METRIC_LAST_CHANGE:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL.%03uL\n",
                    sp[i].change_ms / 1000, sp[i].change_ms % 1000);
                break;

            case LBK_METRIC_WEIGHT:
                ngx_http_upstream_lbkit_sink_printf(s, "%uD\n", in->weight);
                break;

            case LBK_METRIC_EFFECTIVE_WEIGHT:
                ngx_http_upstream_lbkit_sink_printf(s, "%uD\n",
                                                    in->effective_weight);
                break;

            case LBK_METRIC_MAX_CONNS:
                ngx_http_upstream_lbkit_sink_printf(s, "%uD\n",
                                                    in->max_conns);
                break;

            case LBK_METRIC_BACKUP:
                ngx_http_upstream_lbkit_sink_printf(s, "%d\n",
                                                    in->backup ? 1 : 0);
                break;

            case LBK_METRIC_ACTIVE:
                ngx_http_upstream_lbkit_sink_printf(s, "%uD\n", in->active);
                break;

            case LBK_METRIC_REQUESTS:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL\n", in->requests);
                break;

            case LBK_METRIC_FAILURES:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL\n", in->failures);
                break;

            case LBK_METRIC_EWMA:
                ngx_http_upstream_lbkit_status_seconds(s, in->ewma_latency_us);
                break;

            case LBK_METRIC_PROBE_LATENCY:
                ngx_http_upstream_lbkit_status_seconds(s,
                                                       in->probe_latency_us);
                break;

            case LBK_METRIC_LAST_CHECK_TIME:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL.%03uL\n",
                    sp[i].rec.time_ms / 1000, sp[i].rec.time_ms % 1000);
                break;

            case LBK_METRIC_LAST_CHECK_OK:
                ngx_http_upstream_lbkit_sink_printf(s, "%d\n",
                    sp[i].rec.outcome == LBK_CHECK_PASS ? 1 : 0);
                break;

            case LBK_METRIC_LAST_CHECK_DURATION:
                ngx_http_upstream_lbkit_status_seconds(s,
                                                       sp[i].rec.duration_us);
                break;

            case LBK_METRIC_LAST_CHECK_STATUS:
                ngx_http_upstream_lbkit_sink_printf(s, "%D\n",
                                                    sp[i].rec.http_status);
                break;

            case LBK_METRIC_EJECTIONS:
                ngx_http_upstream_lbkit_sink_printf(s, "%uD\n",
                                                    in->ejections);
                break;

            case LBK_METRIC_VALUE:
                ngx_http_upstream_lbkit_sink_printf(s, "%L\n", in->value);
                break;

            case LBK_METRIC_LAG:
                ngx_http_upstream_lbkit_sink_printf(s, "%L\n", in->lag);
                break;

            case LBK_METRIC_BYTES_SENT:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL\n",
                                                    in->bytes_sent);
                break;

            case LBK_METRIC_BYTES_RECEIVED:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL\n",
                                                    in->bytes_received);
                break;

            case LBK_METRIC_HEADER_TIME:
                ngx_http_upstream_lbkit_status_seconds(s,
                                                    in->header_time_avg_us);
                break;

            case LBK_METRIC_RESPONSE_TIME:
                ngx_http_upstream_lbkit_status_seconds(s,
                                                    in->response_time_avg_us);
                break;

            case LBK_METRIC_LAST_SELECTED:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL.%03uL\n",
                    sp[i].selected_ms / 1000, sp[i].selected_ms % 1000);
                break;

            case LBK_METRIC_UNAVAIL:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL\n", in->unavail);
                break;

            case LBK_METRIC_UNHEALTHY:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL\n",
                                                    in->unhealthy);
                break;

            case LBK_METRIC_DOWNTIME:
                ngx_http_upstream_lbkit_status_seconds(s, in->downtime_us);
                break;

            default:
                break;
            }
        }
    }
}


/* ------------------------------------------------------------------ */
/* HTML                                                                */
/* ------------------------------------------------------------------ */

/*
 * The dashboard is rendered here in full, so that it reads the same without
 * JavaScript (a <noscript> meta refresh reloads it).  With JavaScript, the
 * inline script fetches the JSON form every NGX_HTTP_LBKIT_HTML_REFRESH
 * seconds and rewrites the cells whose header names a JSON-derived column
 * (th data-c), adding rates from the difference of two fetches; it reloads
 * the page when the set of servers changed.
 */

#define NGX_HTTP_LBKIT_HTML_REFRESH  5

static const char ngx_http_upstream_lbkit_html_style[] =
"<style>\n"
"body{font:13px/1.35 system-ui,sans-serif;margin:0 16px 24px;color:#1d1d1d;"
"background:#fff}\n"
"h1{font-size:20px;margin:12px 0 2px}"
"h2{font-size:15px;margin:18px 0 4px}\n"
"small,#meta{color:#5f5f5f;font-weight:normal}"
"#meta{margin:2px 0 8px}form{display:inline;margin-left:12px}\n"
"table{border-collapse:collapse}\n"
"th,td{padding:2px 8px;border-bottom:1px solid #e2e2e2;text-align:left;"
"white-space:nowrap}\n"
"th{background:#f3f3f3;position:sticky;top:0;font-weight:600;z-index:1}\n"
"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\n"
"td.why{max-width:26em;overflow:hidden;text-overflow:ellipsis}\n"
"i{color:#5f5f5f;font-size:11px}\n"
".st{display:inline-block;min-width:5.5em;padding:0 6px;border-radius:3px;"
"color:#fff;font-weight:600;text-align:center}\n"
".st+.st{margin-left:4px}td.states .st{min-width:0}\n"
".st-up{background:#2e7d32}.st-draining{background:#1565c0}"
".st-down{background:#616161}.st-unavail{background:#ef6c00}"
".st-checking{background:#f9a825;color:#1d1d1d}"
".st-unhealthy{background:#c62828}.st-maint{background:#6a1b9a}\n"
"tr.s-draining td{background:#e9f1fb}tr.s-down td{background:#f0f0f0}"
"tr.s-unavail td{background:#fff1e0}tr.s-checking td{background:#fff9e0}"
"tr.s-unhealthy td{background:#fdeaea}tr.s-maint td{background:#f4ecf8}\n"
"</style>\n";

static const char ngx_http_upstream_lbkit_html_script[] =
"<script>\n"
"(function () {\n"
"  'use strict';\n"
"  var q = new URLSearchParams(location.search);\n"
"  q.set('format', 'json');\n"
"  var url = location.pathname + '?' + q.toString();\n"
"  var period = Number(document.body.dataset.refresh) * 1000;\n"
"  var prev = null, busy = false;\n"
"  function age(ms) {\n"
"    var s = Math.max(0, Math.floor(ms / 1000)), m = Math.floor(s / 60),\n"
"        h = Math.floor(m / 60);\n"
"    if (s < 60) return s + 's';\n"
"    if (m < 60) return m + 'm ' + s % 60 + 's';\n"
"    if (h < 24) return h + 'h ' + m % 60 + 'm';\n"
"    return Math.floor(h / 24) + 'd ' + h % 24 + 'h';\n"
"  }\n"
"  function iso(ms) {\n"
"    return new Date(ms).toISOString().replace(/\\.\\d+Z$/, 'Z');\n"
"  }\n"
"  function ms(us) { return (us / 1000).toFixed(1); }\n"
"  function bytes(n) {\n"
"    if (n < 1024) return n + ' B';\n"
"    var u = 0;\n"
"    while (u < 5 && n >= Math.pow(1024, u + 2)) u++;\n"
"    return (Math.floor(n * 10 / Math.pow(1024, u + 1)) / 10).toFixed(1) +\n"
"           ' ' + 'KMGTPE'[u] + 'iB';\n"
"  }\n"
"  function rate(now, old, dt) {\n"
"    return old == null || dt <= 0 ? '\\u2013'\n"
"           : (Math.max(0, now - old) / dt).toFixed(1);\n"
"  }\n"
"  function badge(td, state, text) {\n"
"    var b = td.firstElementChild || td.appendChild(\n"
"        document.createElement('span'));\n"
"    b.className = 'st st-' + state;\n"
"    b.textContent = text;\n"
"  }\n"
"  function put(td, v) {\n"
"    if (typeof v === 'object') {\n"
"      if (v.state) { badge(td, v.state, v.text); return; }\n"
"      td.title = v.title;\n"
"      v = v.text;\n"
"    }\n"
"    if (td.textContent !== String(v)) td.textContent = v;\n"
"  }\n"
"  function fill(row, keys, vals) {\n"
"    for (var i = 0; i < keys.length; i++)\n"
"      if (keys[i] && keys[i] in vals) put(row.cells[i], vals[keys[i]]);\n"
"  }\n"
"  function keysOf(table) {\n"
"    return Array.prototype.map.call(table.tHead.rows[0].cells,\n"
"        function (th) { return th.dataset.c || ''; });\n"
"  }\n"
"  function server(s, u, now, old, dt) {\n"
"    var c = s.last_check, v = {\n"
"      state: {state: s.state, text: s.state},\n"
"      since: s.last_state_change_ms === null ? '\\u2013' : {\n"
"        text: age(now - s.last_state_change_ms),\n"
"        title: iso(s.last_state_change_ms)},\n"
"      check: c === null ? (u.check ? 'never' : '\\u2013') : {\n"
"        text: c.result + (c.ok ? '' : ': ' + c.reason),\n"
"        title: c.reason + ' (' + age(c.age_ms) + ' ago, ' +\n"
"               ms(c.duration_us) + ' ms)'},\n"
"      active: s.active, requests: s.requests, failures: s.failures,\n"
"      rate: rate(s.requests, old, dt),\n"
"      downtime: age(s.downtime_ms),\n"
"      r1: s.responses['1xx'], r2: s.responses['2xx'],\n"
"      r3: s.responses['3xx'], r4: s.responses['4xx'],\n"
"      r5: s.responses['5xx'],\n"
"      sent: bytes(s.bytes_sent), received: bytes(s.bytes_received),\n"
"      resp: ms(s.response_time_us || 0),\n"
"      ewma: ms(s.ewma_latency_us), probe: ms(s.probe_latency_us),\n"
"      weight: s.weight === s.effective_weight ? s.weight\n"
"              : s.effective_weight + '/' + s.weight,\n"
"      value: s.value === null ? '' : s.value,\n"
"      lag: s.lag === null ? '' : s.lag\n"
"    };\n"
"    return v;\n"
"  }\n"
"  function summary(u, old, dt) {\n"
"    var states = [];\n"
"    for (var k in u.states) if (u.states[k]) states.push(k);\n"
"    return {\n"
"      up: u.servers_up + '/' + u.servers_total,\n"
"      active: u.active, requests: u.requests, failures: u.failures,\n"
"      rate: rate(u.requests, old && old.requests, dt),\n"
"      errors: old == null || dt <= 0 ? errpct(u.failures, u.requests)\n"
"              : errpct(u.failures - old.failures,\n"
"                       u.requests - old.requests),\n"
"      r5: u.responses['5xx'],\n"
"      sent: bytes(u.bytes_sent), received: bytes(u.bytes_received),\n"
"      states: states\n"
"    };\n"
"  }\n"
"  function errpct(f, r) { return r > 0 ? (100 * f / r).toFixed(1) + '%' : "
"'\\u2013'; }\n"
"  function states(td, u) {\n"
"    td.textContent = '';\n"
"    for (var k in u.states) {\n"
"      if (!u.states[k]) continue;\n"
"      var b = td.appendChild(document.createElement('span'));\n"
"      b.className = 'st st-' + k;\n"
"      b.textContent = u.states[k] + ' ' + k;\n"
"    }\n"
"  }\n"
"  function render(doc) {\n"
"    var dt = prev ? (doc.time_ms - prev.time_ms) / 1000 : 0, seen = {};\n"
"    var sum = document.getElementById('summary'), skeys = keysOf(sum);\n"
"    var srows = {};\n"
"    Array.prototype.forEach.call(sum.tBodies[0].rows,\n"
"        function (r) { srows[r.dataset.u] = r; });\n"
"    var bodies = {};\n"
"    Array.prototype.forEach.call(document.querySelectorAll('tbody[data-u]'),\n"
"        function (b) { bodies[b.dataset.u] = b; });\n"
"    for (var i = 0; i < doc.upstreams.length; i++) {\n"
"      var u = doc.upstreams[i], tb = bodies[u.name], sr = srows[u.name];\n"
"      if (!tb || !sr || tb.rows.length !== u.servers.length) return false;\n"
"      var old = prev && prev.u[u.name];\n"
"      var sv = summary(u, old, dt);\n"
"      fill(sr, skeys, sv);\n"
"      states(sr.cells[skeys.indexOf('states')], u);\n"
"      var keys = keysOf(tb.parentNode), rows = {};\n"
"      Array.prototype.forEach.call(tb.rows,\n"
"          function (r) { rows[r.dataset.id] = r; });\n"
"      var now = {requests: u.requests, failures: u.failures, s: {}};\n"
"      for (var j = 0; j < u.servers.length; j++) {\n"
"        var s = u.servers[j], row = rows[s.id];\n"
"        if (!row) return false;\n"
"        row.className = 's-' + s.state;\n"
"        fill(row, keys, server(s, u, doc.time_ms,\n"
"                               old && old.s[s.id], dt));\n"
"        now.s[s.id] = s.requests;\n"
"      }\n"
"      seen[u.name] = now;\n"
"    }\n"
"    if (Object.keys(bodies).length !== doc.upstreams.length) return false;\n"
"    prev = {time_ms: doc.time_ms, u: seen};\n"
"    document.getElementById('updated').textContent =\n"
"        'updated ' + iso(doc.time_ms);\n"
"    document.getElementById('updated').title = '';\n"
"    return true;\n"
"  }\n"
"  function tick() {\n"
"    if (busy) return;\n"
"    busy = true;\n"
"    fetch(url, {cache: 'no-store'}).then(function (r) {\n"
"      if (!r.ok) throw new Error('HTTP ' + r.status);\n"
"      return r.json();\n"
"    }).then(function (doc) {\n"
"      if (!render(doc)) { location.reload(); return; }\n"
"      document.getElementById('mode').textContent =\n"
"          'live, every ' + period / 1000 + ' s';\n"
"    }).catch(function (e) {\n"
"      document.getElementById('mode').textContent = 'refresh failed: ' + e;\n"
"    }).then(function () { busy = false; });\n"
"  }\n"
"  document.body.dataset.js = 'on';\n"
"  tick();\n"
"  setInterval(tick, period);\n"
"})();\n"
"</script>\n";


/* Writes "12s", "3m 4s", "2h 5m" or "3d 4h" for @ms; returns its end. */
static u_char *
ngx_http_upstream_lbkit_status_age(u_char *buf, size_t len, uint64_t ms)
{
    uint64_t  s, m, h;

    s = ms / 1000;
    m = s / 60;
    h = m / 60;

    if (s < 60) {
        return ngx_snprintf(buf, len, "%uLs", s);
    }

    if (m < 60) {
        return ngx_snprintf(buf, len, "%uLm %uLs", m, s % 60);
    }

    if (h < 24) {
        return ngx_snprintf(buf, len, "%uLh %uLm", h, m % 60);
    }

    return ngx_snprintf(buf, len, "%uLd %uLh", h / 24, h % 24);
}


/* Writes "512 B", "1.5 KiB", "3.2 MiB", ... for @n bytes; returns its end. */
static u_char *
ngx_http_upstream_lbkit_status_bytes(u_char *buf, size_t len, uint64_t n)
{
    ngx_uint_t   unit;
    uint64_t     tenths;
    static char  units[] = "KMGTPE";

    if (n < 1024) {
        return ngx_snprintf(buf, len, "%uL B", n);
    }

    /* tenths of the largest unit that keeps the value below 1024 */
    for (unit = 0; unit < 5 && n >= (uint64_t) 1024 << (10 * (unit + 1));
         unit++)
    {
        /* void */
    }

    tenths = n * 10 / ((uint64_t) 1024 << (10 * unit));

    return ngx_snprintf(buf, len, "%uL.%uL %ciB", tenths / 10, tenths % 10,
                        units[unit]);
}


/* Writes @ms (epoch) as RFC 3339 UTC, "2026-12-02T05:50:00Z". */
static u_char *
ngx_http_upstream_lbkit_status_rfc3339(u_char *buf, size_t len, uint64_t ms)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (ms / 1000), &tm);

    return ngx_snprintf(buf, len, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                        tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                        tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


/* "<span class="st st-STATE">TEXT</span>" with an optional count. */
static void
ngx_http_upstream_lbkit_status_badge(ngx_http_upstream_lbkit_sink_t *s,
    ngx_uint_t state, ngx_uint_t count)
{
    if (count) {
        ngx_http_upstream_lbkit_sink_printf(s,
            "<span class=\"st st-%s\">%ui %s</span>",
            ngx_http_upstream_lbkit_state_names[state], count,
            ngx_http_upstream_lbkit_state_names[state]);
        return;
    }

    ngx_http_upstream_lbkit_sink_printf(s, "<span class=\"st st-%s\">%s</span>",
        ngx_http_upstream_lbkit_state_names[state],
        ngx_http_upstream_lbkit_state_names[state]);
}


/* `<td class="n">1.5 KiB</td>` */
static void
ngx_http_upstream_lbkit_status_bytes_cell(ngx_http_upstream_lbkit_sink_t *s,
    uint64_t n)
{
    u_char  buf[32], *end;

    end = ngx_http_upstream_lbkit_status_bytes(buf, sizeof(buf), n);
    ngx_http_upstream_lbkit_sink_printf(s, "<td class=\"n\">%*s</td>",
                                        end - buf, buf);
}


/* Failures per request as a percentage with one decimal, or a dash. */
static void
ngx_http_upstream_lbkit_status_percent(ngx_http_upstream_lbkit_sink_t *s,
    uint64_t part, uint64_t whole)
{
    uint64_t  permille;

    if (whole == 0) {
        ngx_http_upstream_lbkit_sink_printf(s, "<td class=\"n\">&ndash;</td>");
        return;
    }

    permille = (part * 1000 + whole / 2) / whole;
    ngx_http_upstream_lbkit_sink_printf(s, "<td class=\"n\">%uL.%uL%%</td>",
                                        permille / 10, permille % 10);
}


static void
ngx_http_upstream_lbkit_status_html_summary(ngx_http_upstream_lbkit_sink_t *s,
    ngx_http_upstream_lbkit_status_t *st)
{
    ngx_uint_t                                  i, k;
    lbk_check_options                          *co;
    ngx_http_upstream_lbkit_status_upstream_t  *ups, *up;

    ups = st->upstreams.elts;

    ngx_http_upstream_lbkit_sink_text(s,
        "<table id=\"summary\"><thead><tr><th>upstream</th><th>method</th>"
        "<th>check</th><th class=\"n\" data-c=\"up\">servers up</th>"
        "<th data-c=\"states\">states</th>"
        "<th class=\"n\" data-c=\"active\">active</th>"
        "<th class=\"n\" data-c=\"requests\">requests</th>"
        "<th class=\"n\" data-c=\"rate\">req/s</th>"
        "<th class=\"n\" data-c=\"failures\">failures</th>"
        "<th class=\"n\" data-c=\"errors\">error rate</th>"
        "<th class=\"n\" data-c=\"r5\">5xx</th>"
        "<th class=\"n\" data-c=\"sent\">sent</th>"
        "<th class=\"n\" data-c=\"received\">received</th>"
        "</tr></thead><tbody>\n");

    for (i = 0; i < st->upstreams.nelts; i++) {
        up = &ups[i];

        ngx_http_upstream_lbkit_sink_printf(s, "<tr data-u=\"");
        ngx_http_upstream_lbkit_sink_html(s, up->lscf->upstream->host.data,
                                          up->lscf->upstream->host.len);
        ngx_http_upstream_lbkit_sink_printf(s, "\"><td><a href=\"#u%ui\">",
                                            i);
        ngx_http_upstream_lbkit_sink_html(s, up->lscf->upstream->host.data,
                                          up->lscf->upstream->host.len);
        ngx_http_upstream_lbkit_sink_printf(s, "</a></td><td>%s</td><td>",
                                            lbk_pool_method(up->lscf->pool));

        if (up->lscf->check.enabled) {
            co = &up->lscf->check.opts;
            ngx_http_upstream_lbkit_sink_printf(s, "%s every %uD ms",
                lbk_check_kind_name(co->kind),
                co->inter_ms);
        } else {
            ngx_http_upstream_lbkit_sink_printf(s, "&ndash;");
        }

        ngx_http_upstream_lbkit_sink_printf(s,
            "</td><td class=\"n\">%ui/%ui</td><td class=\"states\">",
            up->up, up->count);

        for (k = 0; k < LBK_STATE_COUNT; k++) {
            if (up->states[k]) {
                ngx_http_upstream_lbkit_status_badge(s, k, up->states[k]);
            }
        }

        ngx_http_upstream_lbkit_sink_printf(s,
            "</td><td class=\"n\">%uL</td><td class=\"n\">%uL</td>"
            "<td class=\"n\">&ndash;</td><td class=\"n\">%uL</td>",
            up->active, up->requests, up->failures);
        ngx_http_upstream_lbkit_status_percent(s, up->failures, up->requests);
        ngx_http_upstream_lbkit_sink_printf(s, "<td class=\"n\">%uL</td>",
                                            up->responses[4]);
        ngx_http_upstream_lbkit_status_bytes_cell(s, up->bytes_sent);
        ngx_http_upstream_lbkit_status_bytes_cell(s, up->bytes_received);
        ngx_http_upstream_lbkit_sink_printf(s, "</tr>\n");
    }

    ngx_http_upstream_lbkit_sink_text(s, "</tbody></table>\n");
}


static void
ngx_http_upstream_lbkit_status_html_server(ngx_http_upstream_lbkit_sink_t *s,
    ngx_http_upstream_lbkit_status_t *st,
    ngx_http_upstream_lbkit_status_peer_t *sp)
{
    u_char          buf[64], *end;
    lbk_peer_info  *in;

    in = &sp->info;

    ngx_http_upstream_lbkit_sink_printf(s,
        "<tr class=\"s-%s\" data-id=\"%uD\"><td title=\"",
        ngx_http_upstream_lbkit_state_names[sp->state], in->id);
    ngx_http_upstream_lbkit_sink_html(s, (u_char *) in->address,
                                      ngx_strlen(in->address));
    ngx_http_upstream_lbkit_sink_printf(s, "\">");
    ngx_http_upstream_lbkit_sink_html(s, (u_char *) in->name,
                                      ngx_strlen(in->name));
    ngx_http_upstream_lbkit_sink_printf(s, "%s</td><td>",
                                        in->backup ? " <i>backup</i>" : "");
    ngx_http_upstream_lbkit_status_badge(s, sp->state, 0);

    if (sp->change_ms) {
        end = ngx_http_upstream_lbkit_status_rfc3339(buf, sizeof(buf),
                                                     sp->change_ms);
        ngx_http_upstream_lbkit_sink_printf(s, "</td><td title=\"%*s\">",
                                            end - buf, buf);
        end = ngx_http_upstream_lbkit_status_age(buf, sizeof(buf),
                  st->now_ms > sp->change_ms ? st->now_ms - sp->change_ms : 0);
        ngx_http_upstream_lbkit_sink_printf(s, "%*s</td>", end - buf, buf);

    } else {
        ngx_http_upstream_lbkit_sink_printf(s, "</td><td>&ndash;</td>");
    }

    end = ngx_http_upstream_lbkit_status_age(buf, sizeof(buf),
                                             in->downtime_us / 1000);
    ngx_http_upstream_lbkit_sink_printf(s, "<td class=\"n\">%*s</td>",
                                        end - buf, buf);

    if (sp->checked) {
        end = ngx_http_upstream_lbkit_status_age(buf, sizeof(buf),
                  st->now_ms > sp->rec.time_ms ? st->now_ms - sp->rec.time_ms
                                               : 0);
        ngx_http_upstream_lbkit_sink_printf(s, "<td class=\"why\" title=\"");
        ngx_http_upstream_lbkit_sink_html(s, sp->rec.reason,
                                          ngx_strlen(sp->rec.reason));
        ngx_http_upstream_lbkit_sink_printf(s,
            " (%*s ago, %uL.%uL ms)\">%s", end - buf, buf,
            sp->rec.duration_us / 1000, sp->rec.duration_us % 1000 / 100,
            lbk_check_outcome_name(sp->rec.outcome));

        if (sp->rec.outcome != LBK_CHECK_PASS) {
            ngx_http_upstream_lbkit_sink_printf(s, ": ");
            ngx_http_upstream_lbkit_sink_html(s, sp->rec.reason,
                                              ngx_strlen(sp->rec.reason));
        }

        ngx_http_upstream_lbkit_sink_printf(s, "</td>");

    } else {
        ngx_http_upstream_lbkit_sink_printf(s, "<td class=\"why\">%s</td>",
            sp->lscf->check.enabled ? "never" : "&ndash;");
    }

    ngx_http_upstream_lbkit_sink_printf(s,
        "<td class=\"n\">%uD</td><td class=\"n\">%uL</td>"
        "<td class=\"n\">&ndash;</td><td class=\"n\">%uL</td>"
        "<td class=\"n\">%uL</td><td class=\"n\">%uL</td>"
        "<td class=\"n\">%uL</td><td class=\"n\">%uL</td>"
        "<td class=\"n\">%uL</td>",
        in->active, in->requests, in->failures, in->responses[0],
        in->responses[1], in->responses[2], in->responses[3],
        in->responses[4]);
    ngx_http_upstream_lbkit_status_bytes_cell(s, in->bytes_sent);
    ngx_http_upstream_lbkit_status_bytes_cell(s, in->bytes_received);
    ngx_http_upstream_lbkit_sink_printf(s,
        "<td class=\"n\">%uL.%uL</td><td class=\"n\">%uL.%uL</td>"
        "<td class=\"n\">%uL.%uL</td>",
        in->response_time_avg_us / 1000, in->response_time_avg_us % 1000 / 100,
        in->ewma_latency_us / 1000, in->ewma_latency_us % 1000 / 100,
        in->probe_latency_us / 1000, in->probe_latency_us % 1000 / 100);

    if (in->weight == in->effective_weight) {
        ngx_http_upstream_lbkit_sink_printf(s, "<td class=\"n\">%uD</td>",
                                            in->weight);
    } else {
        ngx_http_upstream_lbkit_sink_printf(s, "<td class=\"n\">%uD/%uD</td>",
                                            in->effective_weight, in->weight);
    }

    if (in->has_value) {
        ngx_http_upstream_lbkit_sink_printf(s,
            "<td class=\"n\">%L</td><td class=\"n\">%L</td></tr>\n",
            in->value, in->lag);
    } else {
        ngx_http_upstream_lbkit_sink_printf(s,
            "<td class=\"n\"></td><td class=\"n\"></td></tr>\n");
    }
}


static void
ngx_http_upstream_lbkit_status_html(ngx_http_upstream_lbkit_sink_t *s,
    ngx_http_upstream_lbkit_status_t *st)
{
    u_char                                      buf[64], *end;
    ngx_uint_t                                  i, j;
    ngx_http_upstream_lbkit_srv_conf_t        **lscfp;
    ngx_http_upstream_lbkit_main_conf_t        *lmcf;
    ngx_http_upstream_lbkit_status_peer_t      *sp;
    ngx_http_upstream_lbkit_status_upstream_t  *ups, *up;

    sp = st->peers.elts;
    ups = st->upstreams.elts;

    ngx_http_upstream_lbkit_sink_printf(s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width\">\n"
        "<title>lbkit status</title>\n"
        "<noscript><meta http-equiv=\"refresh\" content=\"%d\"></noscript>\n",
        NGX_HTTP_LBKIT_HTML_REFRESH);
    ngx_http_upstream_lbkit_sink_text(s, ngx_http_upstream_lbkit_html_style);

    end = ngx_http_upstream_lbkit_status_rfc3339(buf, sizeof(buf), st->now_ms);
    ngx_http_upstream_lbkit_sink_printf(s,
        "</head><body data-refresh=\"%d\">\n<h1>lbkit status</h1>\n"
        "<div id=\"meta\">lbkit %s &middot; nginx %s &middot; pid %P &middot; "
        "<span id=\"updated\">generated %*s</span> &middot; "
        "<span id=\"mode\">reloads every %d s</span>\n"
        "<form method=\"get\"><input type=\"hidden\" name=\"format\" "
        "value=\"html\"><label>upstream <select name=\"upstream\" "
        "onchange=\"this.form.submit()\"><option value=\"\">all</option>",
        NGX_HTTP_LBKIT_HTML_REFRESH, lbk_version(), NGINX_VERSION, ngx_pid,
        end - buf, buf, NGX_HTTP_LBKIT_HTML_REFRESH);

    /* every upstream is offered, whatever the filter shows */
    lmcf = ngx_http_get_module_main_conf(s->r, ngx_http_upstream_lbkit_module);
    lscfp = lmcf ? lmcf->upstreams.elts : NULL;

    for (i = 0; lmcf && i < lmcf->upstreams.nelts; i++) {
        if (lscfp[i]->pool == NULL) {
            continue;
        }

        ngx_http_upstream_lbkit_sink_printf(s, "<option%s>",
            (st->filter.len == lscfp[i]->upstream->host.len
             && ngx_strncmp(st->filter.data, lscfp[i]->upstream->host.data,
                            st->filter.len) == 0) ? " selected" : "");
        ngx_http_upstream_lbkit_sink_html(s, lscfp[i]->upstream->host.data,
                                          lscfp[i]->upstream->host.len);
        ngx_http_upstream_lbkit_sink_printf(s, "</option>");
    }

    ngx_http_upstream_lbkit_sink_text(s,
        "</select></label><noscript> <button>show</button></noscript>"
        "</form></div>\n");

    ngx_http_upstream_lbkit_status_html_summary(s, st);

    for (i = 0; i < st->upstreams.nelts; i++) {
        up = &ups[i];

        ngx_http_upstream_lbkit_sink_printf(s, "<h2 id=\"u%ui\">", i);
        ngx_http_upstream_lbkit_sink_html(s, up->lscf->upstream->host.data,
                                          up->lscf->upstream->host.len);
        ngx_http_upstream_lbkit_sink_printf(s,
            " <small>%s &middot; %ui server%s</small></h2>\n",
            lbk_pool_method(up->lscf->pool), up->count,
            up->count == 1 ? "" : "s");

        ngx_http_upstream_lbkit_sink_text(s,
            "<table class=\"servers\"><thead><tr><th>server</th>"
            "<th data-c=\"state\">state</th><th data-c=\"since\">since</th>"
            "<th class=\"n\" data-c=\"downtime\">downtime</th>"
            "<th data-c=\"check\">last check</th>"
            "<th class=\"n\" data-c=\"active\">active</th>"
            "<th class=\"n\" data-c=\"requests\">requests</th>"
            "<th class=\"n\" data-c=\"rate\">req/s</th>"
            "<th class=\"n\" data-c=\"failures\">failures</th>"
            "<th class=\"n\" data-c=\"r1\">1xx</th>"
            "<th class=\"n\" data-c=\"r2\">2xx</th>"
            "<th class=\"n\" data-c=\"r3\">3xx</th>"
            "<th class=\"n\" data-c=\"r4\">4xx</th>"
            "<th class=\"n\" data-c=\"r5\">5xx</th>"
            "<th class=\"n\" data-c=\"sent\">sent</th>"
            "<th class=\"n\" data-c=\"received\">received</th>"
            "<th class=\"n\" data-c=\"resp\">resp ms</th>"
            "<th class=\"n\" data-c=\"ewma\">EWMA ms</th>"
            "<th class=\"n\" data-c=\"probe\">check ms</th>"
            "<th class=\"n\" data-c=\"weight\">weight</th>"
            "<th class=\"n\" data-c=\"value\">head</th>"
            "<th class=\"n\" data-c=\"lag\">lag</th>"
            "</tr></thead>\n<tbody data-u=\"");
        ngx_http_upstream_lbkit_sink_html(s, up->lscf->upstream->host.data,
                                          up->lscf->upstream->host.len);
        ngx_http_upstream_lbkit_sink_printf(s, "\">\n");

        for (j = 0; j < up->count; j++) {
            ngx_http_upstream_lbkit_status_html_server(s, st,
                                                       &sp[up->first + j]);
        }

        ngx_http_upstream_lbkit_sink_text(s, "</tbody></table>\n");
    }

    ngx_http_upstream_lbkit_sink_text(s, ngx_http_upstream_lbkit_html_script);
    ngx_http_upstream_lbkit_sink_text(s, "</body></html>\n");
}


/* ------------------------------------------------------------------ */
/* Output sink                                                         */
/* ------------------------------------------------------------------ */

/* Room for @n more bytes in the current buffer (a new one if needed). */
static u_char *
ngx_http_upstream_lbkit_sink_reserve(ngx_http_upstream_lbkit_sink_t *s,
    size_t n)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (s->error) {
        return NULL;
    }

    if (s->b && (size_t) (s->b->end - s->b->last) >= n) {
        return s->b->last;
    }

    b = ngx_create_temp_buf(s->r->pool, ngx_max(n, NGX_HTTP_LBKIT_SINK_CHUNK));
    cl = ngx_alloc_chain_link(s->r->pool);

    if (b == NULL || cl == NULL) {
        s->error = 1;
        return NULL;
    }

    b->memory = 1;
    cl->buf = b;
    cl->next = NULL;
    *s->last = cl;
    s->last = &cl->next;
    s->b = b;

    return b->last;
}


/* Appends formatted text; the result must fit NGX_HTTP_LBKIT_SINK_LINE. */
static void
ngx_http_upstream_lbkit_sink_printf(ngx_http_upstream_lbkit_sink_t *s,
    const char *fmt, ...)
{
    u_char   *p, *end;
    va_list   args;

    p = ngx_http_upstream_lbkit_sink_reserve(s, NGX_HTTP_LBKIT_SINK_LINE);
    if (p == NULL) {
        return;
    }

    va_start(args, fmt);
    end = ngx_vslprintf(p, p + NGX_HTTP_LBKIT_SINK_LINE, fmt, args);
    va_end(args);

    s->total += end - p;
    s->b->last = end;
}


/*
 * @p str as valid UTF-8 for a writer: itself when it is, else a copy in the
 * request's pool with each invalid byte as U+FFFD (lbk_utf8_copy()); NULL
 * (and the sink's error set) when there is no memory.  Texts come from
 * backends and from a record that a torn read may have mixed.
 */
static u_char *
ngx_http_upstream_lbkit_sink_utf8(ngx_http_upstream_lbkit_sink_t *s,
    u_char *str, size_t *len)
{
    u_char  *copy;

    if (lbk_utf8_valid((const char *) str, *len)) {
        return str;
    }

    copy = ngx_pnalloc(s->r->pool, 3 * *len + 1);
    if (copy == NULL) {
        s->error = 1;
        return NULL;
    }

    *len = lbk_utf8_copy((char *) copy, 3 * *len + 1, (const char *) str, *len);

    return copy;
}


/* Appends constant text of any length. */
static void
ngx_http_upstream_lbkit_sink_text(ngx_http_upstream_lbkit_sink_t *s,
    const char *text)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(text);

    p = ngx_http_upstream_lbkit_sink_reserve(s, len);
    if (p == NULL) {
        return;
    }

    s->b->last = ngx_cpymem(p, text, len);
    s->total += len;
}


/* A JSON string literal, quotes included. */
static void
ngx_http_upstream_lbkit_sink_json_string(ngx_http_upstream_lbkit_sink_t *s,
    u_char *str, size_t len)
{
    u_char  *p, *start;
    size_t   n;

    str = ngx_http_upstream_lbkit_sink_utf8(s, str, &len);
    if (str == NULL) {
        return;
    }

    n = len + ngx_escape_json(NULL, str, len) + 2;

    start = ngx_http_upstream_lbkit_sink_reserve(s, n);
    if (start == NULL) {
        return;
    }

    p = start;
    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, str, len);
    *p++ = '"';

    s->total += p - start;
    s->b->last = p;
}


/* A Prometheus label value: backslash, double quote and newline escaped. */
static void
ngx_http_upstream_lbkit_sink_label(ngx_http_upstream_lbkit_sink_t *s,
    u_char *str, size_t len)
{
    u_char  *p, *start;
    size_t   i;

    str = ngx_http_upstream_lbkit_sink_utf8(s, str, &len);
    if (str == NULL) {
        return;
    }

    start = ngx_http_upstream_lbkit_sink_reserve(s, 2 * len);
    if (start == NULL) {
        return;
    }

    p = start;

    for (i = 0; i < len; i++) {
        switch (str[i]) {
        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = str[i];
            break;
        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;
        default:
            *p++ = str[i];
        }
    }

    s->total += p - start;
    s->b->last = p;
}


/* Text with HTML's special characters escaped. */
static void
ngx_http_upstream_lbkit_sink_html(ngx_http_upstream_lbkit_sink_t *s,
    u_char *str, size_t len)
{
    u_char  *p, *start;
    size_t   n;

    str = ngx_http_upstream_lbkit_sink_utf8(s, str, &len);
    if (str == NULL) {
        return;
    }

    n = len + ngx_escape_html(NULL, str, len);

    start = ngx_http_upstream_lbkit_sink_reserve(s, n);
    if (start == NULL) {
        return;
    }

    p = (u_char *) ngx_escape_html(start, str, len);

    s->total += p - start;
    s->b->last = p;
}
