/*
 * ngx_http_upstream_lbkit_status.c - `lbkit_status [json|prometheus|html];`
 * in a location: every lbkit upstream and server, as JSON, Prometheus text
 * exposition (version 0.0.4) or a plain HTML table.  `?format=` overrides
 * the configured format.
 *
 * The page is built in two steps: a snapshot of every peer (lbk_pool_peer_info
 * and a consistent copy of its last-check record), then one renderer per
 * format.  Prometheus wants the samples of one metric together, so every
 * renderer walks the snapshot rather than the pools.
 *
 * JSON schema (every field always present unless noted; units in names):
 *   { "version": "1.0.0", "pid": N, "time_ms": epoch ms,
 *     "upstreams": [ { "name", "method", "servers_total", "servers_up",
 *       "check": null | { "type", "interval_ms", "timeout_ms", "rise",
 *                         "fall" },
 *       "servers": [ { "id", "name", "address", "backup" (bool),
 *         "state": "up"|"down"|"drain"|"maint"|"disabled"|"ejected"|"full"|
 *                  "failed"|"unavailable",
 *         "health": "unknown"|"up"|"down", "usable" (bool),
 *         "weight", "effective_weight", "max_conns", "active",
 *         "requests", "successes", "failures", "fails_in_window",
 *         "ewma_latency_us", "probe_latency_us", "checks", "checks_failed",
 *         "ejections", "value": null | N, "lag": null | N,
 *         "checker_pid": null | N (the worker that holds the check claim),
 *         "last_check": null | { "time_ms", "age_ms", "ok" (bool),
 *           "result": "pass"|"connect"|"timeout"|"tls"|"dns"|"protocol"|
 *                     "status"|"body"|"jsonrpc"|"lag"|"version"|"limit"|
 *                     "agent",
 *           "http_status": null | N, "duration_us", "reason" } } ] } ] }
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_upstream_lbkit.h"


/* One server's snapshot. */
typedef struct {
    ngx_http_upstream_lbkit_srv_conf_t    *lscf;
    lbk_peer_info                          info;
    ngx_http_upstream_lbkit_check_peer_t   rec;      /* last check */
    ngx_flag_t                             checked;  /* rec is meaningful */
    const char                            *state;
} ngx_http_upstream_lbkit_status_peer_t;


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
static ngx_int_t ngx_http_upstream_lbkit_status_snapshot(ngx_http_request_t *r,
    ngx_array_t *peers);
static void ngx_http_upstream_lbkit_status_read_record(
    ngx_http_upstream_lbkit_check_peer_t *dst,
    ngx_http_upstream_lbkit_check_peer_t *src);
static const char *ngx_http_upstream_lbkit_status_state(lbk_peer_info *info,
    uint64_t now_us);
static void ngx_http_upstream_lbkit_status_json(
    ngx_http_upstream_lbkit_sink_t *s, ngx_array_t *peers);
static void ngx_http_upstream_lbkit_status_prometheus(
    ngx_http_upstream_lbkit_sink_t *s, ngx_array_t *peers);
static void ngx_http_upstream_lbkit_status_html(
    ngx_http_upstream_lbkit_sink_t *s, ngx_array_t *peers);

static u_char *ngx_http_upstream_lbkit_sink_reserve(
    ngx_http_upstream_lbkit_sink_t *s, size_t n);
static void ngx_http_upstream_lbkit_sink_printf(
    ngx_http_upstream_lbkit_sink_t *s, const char *fmt, ...);
static void ngx_http_upstream_lbkit_sink_json_string(
    ngx_http_upstream_lbkit_sink_t *s, u_char *str, size_t len);
static void ngx_http_upstream_lbkit_sink_label(
    ngx_http_upstream_lbkit_sink_t *s, u_char *str, size_t len);
static void ngx_http_upstream_lbkit_sink_html(
    ngx_http_upstream_lbkit_sink_t *s, u_char *str, size_t len);


static const char *ngx_http_upstream_lbkit_outcome_names[] = {
    "pass", "connect", "timeout", "tls", "dns", "protocol", "status",
    "body", "jsonrpc", "lag", "version", "limit", "agent"
};

static const char *ngx_http_upstream_lbkit_health_names[] = {
    "unknown", "up", "down"
};

static const char *ngx_http_upstream_lbkit_kind_names[] = {
    "check", "tcp", "http", "https", "jsonrpc", "agent"
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
    ngx_int_t                        rc;
    ngx_uint_t                       format;
    ngx_array_t                      peers;
    ngx_http_upstream_lbkit_sink_t   sink;

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

    if (ngx_array_init(&peers, r->pool, 16,
                       sizeof(ngx_http_upstream_lbkit_status_peer_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_upstream_lbkit_status_snapshot(r, &peers) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&sink, sizeof(ngx_http_upstream_lbkit_sink_t));
    sink.r = r;
    sink.last = &sink.out;

    switch (format) {

    case NGX_HTTP_LBKIT_STATUS_PROMETHEUS:
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");
        ngx_http_upstream_lbkit_status_prometheus(&sink, &peers);
        break;

    case NGX_HTTP_LBKIT_STATUS_HTML:
        ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
        ngx_http_upstream_lbkit_status_html(&sink, &peers);
        break;

    default:
        ngx_str_set(&r->headers_out.content_type, "application/json");
        ngx_http_upstream_lbkit_status_json(&sink, &peers);
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

static ngx_int_t
ngx_http_upstream_lbkit_status_snapshot(ngx_http_request_t *r,
    ngx_array_t *peers)
{
    uint32_t                                id;
    uint64_t                                now_us;
    ngx_uint_t                              i;
    ngx_http_upstream_lbkit_srv_conf_t    **lscfp, *lscf;
    ngx_http_upstream_lbkit_main_conf_t    *lmcf;
    ngx_http_upstream_lbkit_status_peer_t  *sp;

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

        for (id = lbk_pool_next(lscf->pool, LBK_PEER_NONE);
             id != LBK_PEER_NONE;
             id = lbk_pool_next(lscf->pool, id))
        {
            sp = ngx_array_push(peers);
            if (sp == NULL) {
                return NGX_ERROR;
            }

            ngx_memzero(sp, sizeof(ngx_http_upstream_lbkit_status_peer_t));
            sp->lscf = lscf;
            sp->info.version = LBK_PEER_INFO_VERSION;

            if (lbk_pool_peer_info(&sp->info, lscf->pool, id) != LBK_OK) {
                /* removed meanwhile */
                peers->nelts--;
                continue;
            }

            if (lscf->check_peers && id < lscf->npeers) {
                ngx_http_upstream_lbkit_status_read_record(&sp->rec,
                                                    &lscf->check_peers[id]);
                sp->checked = sp->rec.time_ms != 0;
            }

            sp->state = ngx_http_upstream_lbkit_status_state(&sp->info, now_us);
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


/* One word for what the balancer does with a server now. */
static const char *
ngx_http_upstream_lbkit_status_state(lbk_peer_info *info, uint64_t now_us)
{
    switch (info->admin_state) {
    case LBK_ADMIN_DRAIN:
        return "drain";
    case LBK_ADMIN_MAINT:
        return "maint";
    case LBK_ADMIN_DOWN:
        return "disabled";
    default:
        break;
    }

    if (info->health == LBK_HEALTH_DOWN) {
        return "down";
    }

    if (info->usable) {
        return "up";
    }

    if (info->ejected_until_us > now_us) {
        return "ejected";
    }

    if (info->max_conns && info->active >= info->max_conns) {
        return "full";
    }

    if (info->max_fails && info->fails_in_window >= info->max_fails) {
        return "failed";
    }

    return "unavailable";
}


/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

static void
ngx_http_upstream_lbkit_status_json(ngx_http_upstream_lbkit_sink_t *s,
    ngx_array_t *peers)
{
    uint64_t                                now_ms;
    ngx_uint_t                              i, j, total, up;
    lbk_peer_info                          *in;
    lbk_check_options                      *co;
    ngx_http_upstream_lbkit_srv_conf_t     *lscf;
    ngx_http_upstream_lbkit_status_peer_t  *sp;

    now_ms = ngx_http_upstream_lbkit_now_ms();
    sp = peers->elts;

    ngx_http_upstream_lbkit_sink_printf(s,
        "{\"version\":\"%s\",\"pid\":%P,\"time_ms\":%uL,\"upstreams\":[",
        lbk_version(), ngx_pid, now_ms);

    for (i = 0; i < peers->nelts; i = j) {
        lscf = sp[i].lscf;

        total = 0;
        up = 0;
        for (j = i; j < peers->nelts && sp[j].lscf == lscf; j++) {
            total++;
            up += sp[j].info.usable ? 1 : 0;
        }

        ngx_http_upstream_lbkit_sink_printf(s, "%s{\"name\":",
                                            i ? "," : "");
        ngx_http_upstream_lbkit_sink_json_string(s, lscf->upstream->host.data,
                                                 lscf->upstream->host.len);
        ngx_http_upstream_lbkit_sink_printf(s,
            ",\"method\":\"%s\",\"servers_total\":%ui,\"servers_up\":%ui,"
            "\"check\":", lbk_pool_method(lscf->pool), total, up);

        if (lscf->check.enabled) {
            co = &lscf->check.opts;
            ngx_http_upstream_lbkit_sink_printf(s,
                "{\"type\":\"%s\",\"interval_ms\":%uD,\"timeout_ms\":%uD,"
                "\"rise\":%uD,\"fall\":%uD}",
                ngx_http_upstream_lbkit_name_of(
                    ngx_http_upstream_lbkit_kind_names, co->kind),
                co->inter_ms, co->timeout_ms, co->rise, co->fall);

        } else {
            ngx_http_upstream_lbkit_sink_printf(s, "null");
        }

        ngx_http_upstream_lbkit_sink_printf(s, ",\"servers\":[");

        for (j = i; j < peers->nelts && sp[j].lscf == lscf; j++) {
            in = &sp[j].info;

            ngx_http_upstream_lbkit_sink_printf(s, "%s{\"id\":%uD,\"name\":",
                                                j > i ? "," : "", in->id);
            ngx_http_upstream_lbkit_sink_json_string(s, (u_char *) in->name,
                                                     ngx_strlen(in->name));
            ngx_http_upstream_lbkit_sink_printf(s, ",\"address\":");
            ngx_http_upstream_lbkit_sink_json_string(s, (u_char *) in->address,
                                                     ngx_strlen(in->address));

            ngx_http_upstream_lbkit_sink_printf(s,
                ",\"backup\":%s,\"state\":\"%s\",\"health\":\"%s\","
                "\"usable\":%s,\"weight\":%uD,\"effective_weight\":%uD,"
                "\"max_conns\":%uD,\"active\":%uD,\"requests\":%uL,"
                "\"successes\":%uL,\"failures\":%uL,\"fails_in_window\":%uD,",
                in->backup ? "true" : "false", sp[j].state,
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

            if (lscf->check.enabled && sp[j].rec.claim_pid) {
                ngx_http_upstream_lbkit_sink_printf(s, "\"checker_pid\":%P,",
                                            (ngx_pid_t) sp[j].rec.claim_pid);
            } else {
                ngx_http_upstream_lbkit_sink_printf(s, "\"checker_pid\":null,");
            }

            if (!sp[j].checked) {
                ngx_http_upstream_lbkit_sink_printf(s, "\"last_check\":null}");
                continue;
            }

            ngx_http_upstream_lbkit_sink_printf(s,
                "\"last_check\":{\"time_ms\":%uL,\"age_ms\":%uL,\"ok\":%s,"
                "\"result\":\"%s\",\"duration_us\":%uL,\"http_status\":",
                sp[j].rec.time_ms,
                now_ms > sp[j].rec.time_ms ? now_ms - sp[j].rec.time_ms : 0,
                sp[j].rec.outcome == LBK_CHECK_PASS ? "true" : "false",
                ngx_http_upstream_lbkit_name_of(
                    ngx_http_upstream_lbkit_outcome_names, sp[j].rec.outcome),
                sp[j].rec.duration_us);

            if (sp[j].rec.http_status) {
                ngx_http_upstream_lbkit_sink_printf(s, "%D",
                                                    sp[j].rec.http_status);
            } else {
                ngx_http_upstream_lbkit_sink_printf(s, "null");
            }

            ngx_http_upstream_lbkit_sink_printf(s, ",\"reason\":");
            ngx_http_upstream_lbkit_sink_json_string(s, sp[j].rec.reason,
                                            ngx_strlen(sp[j].rec.reason));
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
    LBK_METRIC_WEIGHT,
    LBK_METRIC_EFFECTIVE_WEIGHT,
    LBK_METRIC_ACTIVE,
    LBK_METRIC_REQUESTS,
    LBK_METRIC_FAILURES,
    LBK_METRIC_EWMA,
    LBK_METRIC_PROBE_LATENCY,
    LBK_METRIC_CHECKS,
    LBK_METRIC_CHECKS_FAILED,
    LBK_METRIC_LAST_CHECK_TIME,
    LBK_METRIC_LAST_CHECK_OK,
    LBK_METRIC_LAST_CHECK_DURATION,
    LBK_METRIC_EJECTIONS,
    LBK_METRIC_VALUE,
    LBK_METRIC_LAG
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
      "1 for the server's current state (label state)." },
    { LBK_METRIC_WEIGHT, "lbkit_server_weight", "gauge",
      "Configured weight." },
    { LBK_METRIC_EFFECTIVE_WEIGHT, "lbkit_server_effective_weight", "gauge",
      "Weight after slow start and agent percentage." },
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
      "Active checks of the server." },
    { LBK_METRIC_CHECKS_FAILED, "lbkit_server_checks_failed_total", "counter",
      "Active checks of the server that failed." },
    { LBK_METRIC_LAST_CHECK_TIME,
      "lbkit_server_last_check_timestamp_seconds", "gauge",
      "Wall-clock time of the last check (absent if never checked)." },
    { LBK_METRIC_LAST_CHECK_OK, "lbkit_server_last_check_success", "gauge",
      "1 if the last check passed, else 0 (absent if never checked)." },
    { LBK_METRIC_LAST_CHECK_DURATION,
      "lbkit_server_last_check_duration_seconds", "gauge",
      "Duration of the last check (absent if never checked)." },
    { LBK_METRIC_EJECTIONS, "lbkit_server_ejections_total", "counter",
      "Outlier ejections of the server." },
    { LBK_METRIC_VALUE, "lbkit_server_value", "gauge",
      "Last numeric value of a JSON-RPC check (head block)." },
    { LBK_METRIC_LAG, "lbkit_server_lag", "gauge",
      "Best healthy server's value minus this server's." },
};


static void
ngx_http_upstream_lbkit_status_prometheus(ngx_http_upstream_lbkit_sink_t *s,
    ngx_array_t *peers)
{
    ngx_uint_t                              i, m;
    lbk_peer_info                          *in;
    ngx_http_upstream_lbkit_metric_t       *metric;
    ngx_http_upstream_lbkit_status_peer_t  *sp;

    sp = peers->elts;

    for (m = 0; m < sizeof(ngx_http_upstream_lbkit_metrics)
                    / sizeof(ngx_http_upstream_lbkit_metrics[0]); m++)
    {
        metric = &ngx_http_upstream_lbkit_metrics[m];

        ngx_http_upstream_lbkit_sink_printf(s, "# HELP %s %s\n# TYPE %s %s\n",
                                            metric->name, metric->help,
                                            metric->name, metric->type);

        for (i = 0; i < peers->nelts; i++) {
            in = &sp[i].info;

            if (!sp[i].checked
                && (metric->metric == LBK_METRIC_LAST_CHECK_TIME
                    || metric->metric == LBK_METRIC_LAST_CHECK_OK
                    || metric->metric == LBK_METRIC_LAST_CHECK_DURATION))
            {
                continue;
            }

            if (!in->has_value
                && (metric->metric == LBK_METRIC_VALUE
                    || metric->metric == LBK_METRIC_LAG))
            {
                continue;
            }

            ngx_http_upstream_lbkit_sink_printf(s, "%s{upstream=\"",
                                                metric->name);
            ngx_http_upstream_lbkit_sink_label(s, sp[i].lscf->upstream->host.data,
                                               sp[i].lscf->upstream->host.len);
            ngx_http_upstream_lbkit_sink_printf(s, "\",server=\"");
            ngx_http_upstream_lbkit_sink_label(s, (u_char *) in->name,
                                               ngx_strlen(in->name));

            if (metric->metric == LBK_METRIC_STATE) {
                ngx_http_upstream_lbkit_sink_printf(s, "\",state=\"%s",
                                                    sp[i].state);
            }

            ngx_http_upstream_lbkit_sink_printf(s, "\"} ");

            switch (metric->metric) {

            case LBK_METRIC_UP:
                ngx_http_upstream_lbkit_sink_printf(s, "%d\n",
                                                    in->usable ? 1 : 0);
                break;

            case LBK_METRIC_HEALTHY:
                ngx_http_upstream_lbkit_sink_printf(s, "%d\n",
                    in->health == LBK_HEALTH_DOWN ? 0 : 1);
                break;

            case LBK_METRIC_STATE:
                ngx_http_upstream_lbkit_sink_printf(s, "1\n");
                break;

            case LBK_METRIC_WEIGHT:
                ngx_http_upstream_lbkit_sink_printf(s, "%uD\n", in->weight);
                break;

            case LBK_METRIC_EFFECTIVE_WEIGHT:
                ngx_http_upstream_lbkit_sink_printf(s, "%uD\n",
                                                    in->effective_weight);
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
                ngx_http_upstream_lbkit_sink_printf(s, "%uL.%06uL\n",
                    in->ewma_latency_us / 1000000,
                    in->ewma_latency_us % 1000000);
                break;

            case LBK_METRIC_PROBE_LATENCY:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL.%06uL\n",
                    in->probe_latency_us / 1000000,
                    in->probe_latency_us % 1000000);
                break;

            case LBK_METRIC_CHECKS:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL\n", in->checks);
                break;

            case LBK_METRIC_CHECKS_FAILED:
                ngx_http_upstream_lbkit_sink_printf(s, "%uL\n",
                                                    in->checks_failed);
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
                ngx_http_upstream_lbkit_sink_printf(s, "%uL.%06uL\n",
                    sp[i].rec.duration_us / 1000000,
                    sp[i].rec.duration_us % 1000000);
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
            }
        }
    }
}


/* ------------------------------------------------------------------ */
/* HTML                                                                */
/* ------------------------------------------------------------------ */

static void
ngx_http_upstream_lbkit_status_html(ngx_http_upstream_lbkit_sink_t *s,
    ngx_array_t *peers)
{
    uint64_t                                now_ms;
    ngx_uint_t                              i;
    lbk_peer_info                          *in;
    ngx_http_upstream_lbkit_status_peer_t  *sp;

    now_ms = ngx_http_upstream_lbkit_now_ms();
    sp = peers->elts;

    ngx_http_upstream_lbkit_sink_printf(s,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>lbkit status</title></head><body>\n"
        "<h1>lbkit status</h1>\n<table border=\"1\">\n<tr>"
        "<th>upstream</th><th>server</th><th>state</th><th>health</th>"
        "<th>weight</th><th>effective weight</th><th>active</th>"
        "<th>requests</th><th>failures</th><th>EWMA latency ms</th>"
        "<th>checks</th><th>checks failed</th><th>last check</th>"
        "<th>result</th><th>reason</th><th>value</th><th>lag</th></tr>\n");

    for (i = 0; i < peers->nelts; i++) {
        in = &sp[i].info;

        ngx_http_upstream_lbkit_sink_printf(s, "<tr><td>");
        ngx_http_upstream_lbkit_sink_html(s, sp[i].lscf->upstream->host.data,
                                          sp[i].lscf->upstream->host.len);
        ngx_http_upstream_lbkit_sink_printf(s, "</td><td>");
        ngx_http_upstream_lbkit_sink_html(s, (u_char *) in->name,
                                          ngx_strlen(in->name));
        ngx_http_upstream_lbkit_sink_printf(s,
            "%s</td><td>%s</td><td>%s</td><td>%uD</td><td>%uD</td>"
            "<td>%uD</td><td>%uL</td><td>%uL</td><td>%uL.%03uL</td>"
            "<td>%uL</td><td>%uL</td>",
            in->backup ? " (backup)" : "", sp[i].state,
            ngx_http_upstream_lbkit_name_of(
                ngx_http_upstream_lbkit_health_names, in->health),
            in->weight, in->effective_weight, in->active, in->requests,
            in->failures, in->ewma_latency_us / 1000,
            in->ewma_latency_us % 1000, in->checks, in->checks_failed);

        if (sp[i].checked) {
            ngx_http_upstream_lbkit_sink_printf(s,
                "<td>%uL ms ago</td><td>%s</td><td>",
                now_ms > sp[i].rec.time_ms ? now_ms - sp[i].rec.time_ms : 0,
                ngx_http_upstream_lbkit_name_of(
                    ngx_http_upstream_lbkit_outcome_names, sp[i].rec.outcome));
            ngx_http_upstream_lbkit_sink_html(s, sp[i].rec.reason,
                                              ngx_strlen(sp[i].rec.reason));
            ngx_http_upstream_lbkit_sink_printf(s, "</td>");

        } else {
            ngx_http_upstream_lbkit_sink_printf(s,
                                        "<td>never</td><td></td><td></td>");
        }

        if (in->has_value) {
            ngx_http_upstream_lbkit_sink_printf(s, "<td>%L</td><td>%L</td>",
                                                in->value, in->lag);
        } else {
            ngx_http_upstream_lbkit_sink_printf(s, "<td></td><td></td>");
        }

        ngx_http_upstream_lbkit_sink_printf(s, "</tr>\n");
    }

    ngx_http_upstream_lbkit_sink_printf(s, "</table>\n</body></html>\n");
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
