/*
 * ngx_http_upstream_lbkit_check_conf.c - the `lbkit_check` directive: reads
 * its `name=value` parameters into the upstream's lbk_check_options, its
 * ngx_http_upstream_lbkit_check_conf_t and the checks' private part
 * (ngx_http_upstream_lbkit_check_extra_t), applies the rules between
 * parameters, compiles the check with liblbkit and sets up TLS.
 *
 * Every parameter is one row of ngx_http_upstream_lbkit_check_params: its
 * name, its type (how the value is read), where it is stored and its range.
 * One reader per type parses and range-checks a value, and one function
 * says what a type expects ("a number from 1 to 1000") when a value is
 * refused, so a parameter of an existing type is added with one row.  What
 * only liblbkit knows (status lists, JSON params, headers) it judges in
 * lbk_check_create(), whose message the error then carries.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_upstream_lbkit.h"
#include "ngx_http_upstream_lbkit_check.h"


/* How a parameter's value is read. */
typedef enum {
    LBK_PARAM_TIME,      /* "500ms", "2s": milliseconds, min..max */
    LBK_PARAM_NUMBER,    /* an integer, min..max */
    LBK_PARAM_PERCENT,   /* an integer, min..max, with an optional '%' */
    LBK_PARAM_TEXT,      /* a NUL-terminated copy (const char *), at least
                            min bytes */
    LBK_PARAM_STR,       /* the same as an ngx_str_t, without a character
                            of `reject` */
    LBK_PARAM_LINES,     /* ngx_str_t: each occurrence adds a '\n' line */
    LBK_PARAM_WORD,      /* one of `words`, its value stored */
    LBK_PARAM_KIND,      /* a check kind as liblbkit names it (an int) */
    LBK_PARAM_CHAIN,     /* a liblbkit chain profile name (a pointer) */
    LBK_PARAM_ADDRESS    /* a numeric ADDRESS:PORT (an ngx_addr_t *) */
} ngx_http_upstream_lbkit_check_type_e;

/* Which struct a parameter's field is in. */
typedef enum {
    LBK_PARAM_IN_OPTS,   /* lscf->check.opts (lbk_check_options) */
    LBK_PARAM_IN_CONF,   /* lscf->check (..._check_conf_t) */
    LBK_PARAM_IN_EXTRA   /* lscf->check.data (..._check_extra_t) */
} ngx_http_upstream_lbkit_check_where_e;

typedef struct {
    ngx_str_t                   name;
    ngx_uint_t                  type;      /* ..._check_type_e */
    ngx_uint_t                  where;     /* ..._check_where_e */
    size_t                      offset;    /* of the field in its struct */
    size_t                      size;      /* of the field */
    int64_t                     min;       /* numbers and times (ms); texts:
                                              the least length (0 or 1) */
    int64_t                     max;       /* numbers and times; 0 = none
                                              (min is then 1: "positive") */
    const char                 *what;      /* numbers: what they count; STR:
                                              what the value names */
    const char                 *reject;    /* STR: characters refused, or
                                              NULL */
    ngx_conf_enum_t            *words;     /* WORD: the accepted words */
} ngx_http_upstream_lbkit_check_param_t;


#define LBK_PARAM_FIELD(type, field)                                          \
    offsetof(type, field), sizeof(((type *) 0)->field)
#define LBK_OPTS(field)                                                       \
    LBK_PARAM_IN_OPTS, LBK_PARAM_FIELD(lbk_check_options, field)
#define LBK_CONF(field)                                                       \
    LBK_PARAM_IN_CONF,                                                        \
    LBK_PARAM_FIELD(ngx_http_upstream_lbkit_check_conf_t, field)
#define LBK_EXTRA(field)                                                      \
    LBK_PARAM_IN_EXTRA,                                                       \
    LBK_PARAM_FIELD(ngx_http_upstream_lbkit_check_extra_t, field)

#define LBK_DAY_MS  86400000

/*
 * A row of the table, by type: the name, the field (LBK_OPTS() and the
 * like, three members), then what the type needs.
 */
#define LBK_TIME(name, field, min)                                            \
    { ngx_string(name), LBK_PARAM_TIME, field, min, LBK_DAY_MS,               \
      NULL, NULL, NULL }
#define LBK_NUMBER(name, type, field, min, max, what)                         \
    { ngx_string(name), type, field, min, max, what, NULL, NULL }
#define LBK_TEXT(name, type, field, least)                                    \
    { ngx_string(name), type, field, least, 0, NULL, NULL, NULL }
#define LBK_STR(name, field, what, reject)                                    \
    { ngx_string(name), LBK_PARAM_STR, field, 1, 0, what, reject, NULL }
#define LBK_WORD(name, field, words)                                          \
    { ngx_string(name), LBK_PARAM_WORD, field, 0, 0, NULL, NULL, words }
#define LBK_VALUE(name, type, field)                                          \
    { ngx_string(name), type, field, 0, 0, NULL, NULL, NULL }


static ngx_conf_enum_t  ngx_http_upstream_lbkit_check_on_off[] = {
    { ngx_string("on"), 1 },
    { ngx_string("off"), 0 },
    { ngx_null_string, 0 }
};

static ngx_conf_enum_t  ngx_http_upstream_lbkit_check_up_down[] = {
    { ngx_string("up"), LBK_HEALTH_UP },
    { ngx_string("down"), LBK_HEALTH_DOWN },
    { ngx_null_string, 0 }
};

#define LBK_ON_OFF   ngx_http_upstream_lbkit_check_on_off
#define LBK_UP_DOWN  ngx_http_upstream_lbkit_check_up_down


static ngx_http_upstream_lbkit_check_param_t
    ngx_http_upstream_lbkit_check_params[] =
{
    LBK_VALUE("type", LBK_PARAM_KIND, LBK_OPTS(kind)),
    LBK_TIME("interval", LBK_OPTS(inter_ms), 1),
    LBK_TIME("timeout", LBK_OPTS(timeout_ms), 1),
    LBK_TIME("fastinter", LBK_OPTS(fastinter_ms), 1),
    LBK_TIME("downinter", LBK_OPTS(downinter_ms), 1),
    LBK_NUMBER("rise", LBK_PARAM_NUMBER, LBK_OPTS(rise), 1, LBK_CHECK_RISE_FALL_MAX, "number"),
    LBK_NUMBER("fall", LBK_PARAM_NUMBER, LBK_OPTS(fall), 1, LBK_CHECK_RISE_FALL_MAX, "number"),
    LBK_NUMBER("jitter", LBK_PARAM_PERCENT, LBK_OPTS(jitter_pct), 0, LBK_CHECK_JITTER_PCT_MAX,
               "percentage"),
    LBK_WORD("initial", LBK_OPTS(initial_health), LBK_UP_DOWN),
    LBK_TEXT("uri", LBK_PARAM_TEXT, LBK_OPTS(path), 1),
    LBK_TEXT("method", LBK_PARAM_TEXT, LBK_OPTS(method), 1),
    LBK_TEXT("host", LBK_PARAM_TEXT, LBK_OPTS(host), 1),
    LBK_TEXT("headers", LBK_PARAM_LINES, LBK_EXTRA(headers), 1),
    LBK_TEXT("body", LBK_PARAM_TEXT, LBK_OPTS(body), 1),
    LBK_TEXT("expect", LBK_PARAM_TEXT, LBK_OPTS(expect_status), 1),
    LBK_TEXT("expect_body", LBK_PARAM_TEXT, LBK_OPTS(expect_body), 1),
    LBK_TEXT("jsonrpc_method", LBK_PARAM_TEXT, LBK_OPTS(jsonrpc_method), 1),
    LBK_TEXT("jsonrpc_params", LBK_PARAM_TEXT, LBK_OPTS(jsonrpc_params), 1),
    /* jsonrpc_field= (empty) names the result itself */
    LBK_TEXT("jsonrpc_field", LBK_PARAM_TEXT, LBK_OPTS(jsonrpc_field), 0),
    LBK_NUMBER("max_lag", LBK_PARAM_NUMBER, LBK_OPTS(max_lag), 1, 0,
               "number of blocks"),
    LBK_VALUE("chain", LBK_PARAM_CHAIN, LBK_EXTRA(chain)),
    LBK_TIME("slow_start", LBK_CONF(slow_start), 0),
    LBK_NUMBER("port", LBK_PARAM_NUMBER, LBK_CONF(port), 1, 65535, "port"),
    LBK_WORD("tls", LBK_EXTRA(tls), LBK_ON_OFF),
    LBK_WORD("tls_verify", LBK_EXTRA(tls_verify), LBK_ON_OFF),
    LBK_STR("tls_name", LBK_EXTRA(tls_name), NULL, NULL),
    LBK_STR("tls_trusted_certificate", LBK_EXTRA(tls_trusted), NULL, NULL),
    LBK_VALUE("agent", LBK_PARAM_ADDRESS, LBK_EXTRA(agent)),
    LBK_STR("agent_pool", LBK_EXTRA(agent_pool), "pool name", "/"),
    { ngx_null_string, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL }
};


static ngx_http_upstream_lbkit_check_param_t *
    ngx_http_upstream_lbkit_check_find(ngx_str_t *name);
static ngx_int_t ngx_http_upstream_lbkit_check_read(ngx_conf_t *cf,
    ngx_http_upstream_lbkit_check_param_t *param, ngx_str_t *v, void *field);
static void ngx_http_upstream_lbkit_check_refuse(ngx_conf_t *cf,
    ngx_http_upstream_lbkit_check_param_t *param, ngx_str_t *arg,
    ngx_str_t *v);
static char *ngx_http_upstream_lbkit_check_rules(ngx_conf_t *cf,
    ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_http_upstream_lbkit_check_extra_t *extra, ngx_flag_t kind_given);
static void ngx_http_upstream_lbkit_check_free_compiled(void *data);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_upstream_lbkit_check_ssl_conf(ngx_conf_t *cf,
    ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_http_upstream_lbkit_check_extra_t *extra);
#endif


char *
ngx_http_upstream_lbkit_check_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upstream_lbkit_srv_conf_t *lscf = conf;

    u_char                                 *eq, *base;
    char                                   *rv;
    ngx_int_t                               rc;
    ngx_str_t                              *value, name, v;
    ngx_uint_t                              i;
    ngx_flag_t                              kind_given;
    ngx_msec_t                              longest;
    ngx_pool_cleanup_t                     *cln;
    ngx_http_upstream_lbkit_check_extra_t  *extra;
    ngx_http_upstream_lbkit_check_param_t  *param;

    if (lscf->check.enabled) {
        return "is duplicate";
    }

    extra = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_lbkit_check_extra_t));
    if (extra == NULL) {
        return NGX_CONF_ERROR;
    }
    extra->tls_verify = 1;   /* secure by default: `tls_verify=off` to skip */

    value = cf->args->elts;
    kind_given = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');
        param = NULL;

        if (eq != NULL) {
            name.data = value[i].data;
            name.len = eq - value[i].data;
            param = ngx_http_upstream_lbkit_check_find(&name);
        }

        if (param == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        v.data = eq + 1;
        v.len = value[i].data + value[i].len - v.data;

        switch (param->where) {
        case LBK_PARAM_IN_OPTS:
            base = (u_char *) &lscf->check.opts;
            break;
        case LBK_PARAM_IN_CONF:
            base = (u_char *) &lscf->check;
            break;
        default: /* LBK_PARAM_IN_EXTRA */
            base = (u_char *) extra;
            break;
        }

        rc = ngx_http_upstream_lbkit_check_read(cf, param, &v,
                                                base + param->offset);
        if (rc == NGX_ABORT) {
            return NGX_CONF_ERROR;
        }

        if (rc != NGX_OK) {
            ngx_http_upstream_lbkit_check_refuse(cf, param, &value[i], &v);
            return NGX_CONF_ERROR;
        }

        kind_given |= param->type == LBK_PARAM_KIND;
    }

    rv = ngx_http_upstream_lbkit_check_rules(cf, lscf, extra, kind_given);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lbk_check_create(&lscf->check.check, &lscf->check.opts) != LBK_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid check: %s",
                           lbk_error_last());
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_upstream_lbkit_check_free_compiled;
    cln->data = &lscf->check;

    /*
     * The owner renews its claim at every check, and checks at most every
     * max(inter, fastinter, downinter) (+ jitter, at most 50%), each lasting
     * at most timeout.  Twice that is a lease a live owner never lets lapse;
     * a dead owner's peers are taken over after it (or at once, when its
     * process is gone).
     */
    longest = ngx_max(lscf->check.opts.inter_ms,
                      ngx_max(lscf->check.opts.fastinter_ms,
                              lscf->check.opts.downinter_ms));
    extra->lease = 2 * (longest + longest / 2 + lscf->check.opts.timeout_ms)
                   + 1000;

    lscf->check.data = extra;

#if (NGX_HTTP_SSL)
    if (extra->tls
        && ngx_http_upstream_lbkit_check_ssl_conf(cf, lscf, extra) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }
#else
    if (extra->tls) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "TLS checks need nginx built with the ssl module");
        return NGX_CONF_ERROR;
    }
#endif

    lscf->check.enabled = 1;

    return NGX_CONF_OK;
}


static ngx_http_upstream_lbkit_check_param_t *
ngx_http_upstream_lbkit_check_find(ngx_str_t *name)
{
    ngx_http_upstream_lbkit_check_param_t  *param;

    for (param = ngx_http_upstream_lbkit_check_params; param->name.len;
         param++)
    {
        if (param->name.len == name->len
            && ngx_strncmp(param->name.data, name->data, name->len) == 0)
        {
            return param;
        }
    }

    return NULL;
}


/* Stores @n, known to fit, in an unsigned or non-negative field of @size. */
static void
ngx_http_upstream_lbkit_check_store(void *field, size_t size, int64_t n)
{
    uint16_t  u16;
    uint32_t  u32;
    uint64_t  u64;

    switch (size) {
    case sizeof(uint16_t):
        u16 = (uint16_t) n;
        ngx_memcpy(field, &u16, size);
        break;
    case sizeof(uint32_t):
        u32 = (uint32_t) n;
        ngx_memcpy(field, &u32, size);
        break;
    default:
        u64 = (uint64_t) n;
        ngx_memcpy(field, &u64, sizeof(u64));
        break;
    }
}


/* A NUL-terminated copy of @v in cf->pool, or NULL. */
static u_char *
ngx_http_upstream_lbkit_check_copy(ngx_conf_t *cf, ngx_str_t *v)
{
    u_char  *p;

    p = ngx_pnalloc(cf->pool, v->len + 1);
    if (p != NULL) {
        *ngx_cpymem(p, v->data, v->len) = '\0';
    }

    return p;
}


/*
 * Reads @v as @param's type says into @field: NGX_OK, NGX_DECLINED for a
 * value the type or range refuses, NGX_ABORT when out of memory.
 */
static ngx_int_t
ngx_http_upstream_lbkit_check_read(ngx_conf_t *cf,
    ngx_http_upstream_lbkit_check_param_t *param, ngx_str_t *v, void *field)
{
    u_char           *p, *start;
    ngx_int_t         n;
    ngx_str_t        *str;
    ngx_url_t         u;
    const char       *c;
    ngx_conf_enum_t  *word;

    switch (param->type) {

    case LBK_PARAM_TIME:
    case LBK_PARAM_NUMBER:
    case LBK_PARAM_PERCENT:
        if (param->type == LBK_PARAM_PERCENT
            && v->len && v->data[v->len - 1] == '%')
        {
            v->len--;
        }
        n = param->type == LBK_PARAM_TIME ? ngx_parse_time(v, 0)
                                          : ngx_atoi(v->data, v->len);
        if (n == NGX_ERROR || n < param->min
            || (param->max != 0 && n > param->max))
        {
            return NGX_DECLINED;
        }
        ngx_http_upstream_lbkit_check_store(field, param->size, n);
        return NGX_OK;

    case LBK_PARAM_TEXT:
        if ((int64_t) v->len < param->min) {
            return NGX_DECLINED;
        }
        p = ngx_http_upstream_lbkit_check_copy(cf, v);
        if (p == NULL) {
            return NGX_ABORT;
        }
        *(const char **) field = (const char *) p;
        return NGX_OK;

    case LBK_PARAM_STR:
        if ((int64_t) v->len < param->min) {
            return NGX_DECLINED;
        }
        for (c = param->reject; c != NULL && *c; c++) {
            if (ngx_strlchr(v->data, v->data + v->len, *c) != NULL) {
                return NGX_DECLINED;
            }
        }
        p = ngx_http_upstream_lbkit_check_copy(cf, v);
        if (p == NULL) {
            return NGX_ABORT;
        }
        str = field;
        str->data = p;
        str->len = v->len;
        return NGX_OK;

    case LBK_PARAM_LINES:
        if ((int64_t) v->len < param->min) {
            return NGX_DECLINED;
        }
        str = field;
        start = ngx_pnalloc(cf->pool, str->len + 1 + v->len + 1);
        if (start == NULL) {
            return NGX_ABORT;
        }
        p = start;
        if (str->len) {
            p = ngx_cpymem(p, str->data, str->len);
            *p++ = '\n';
        }
        p = ngx_cpymem(p, v->data, v->len);
        *p = '\0';
        str->data = start;
        str->len = p - start;
        return NGX_OK;

    case LBK_PARAM_WORD:
        for (word = param->words; word->name.len; word++) {
            if (word->name.len == v->len
                && ngx_strncmp(word->name.data, v->data, v->len) == 0)
            {
                ngx_http_upstream_lbkit_check_store(field, param->size,
                                                    (int64_t) word->value);
                return NGX_OK;
            }
        }
        return NGX_DECLINED;

    case LBK_PARAM_KIND:
        n = lbk_check_kind_from_name((const char *) v->data, v->len);
        if (n == 0) {
            return NGX_DECLINED;
        }
        ngx_http_upstream_lbkit_check_store(field, param->size, n);
        return NGX_OK;

    case LBK_PARAM_CHAIN:
        if (v->len == 0) {
            return NGX_DECLINED;
        }
        p = ngx_http_upstream_lbkit_check_copy(cf, v);
        if (p == NULL) {
            return NGX_ABORT;
        }
        *(const lbk_chain_profile **) field =
                                     lbk_chain_profile_find((const char *) p);
        return *(const lbk_chain_profile **) field ? NGX_OK : NGX_DECLINED;

    default: /* LBK_PARAM_ADDRESS */
        ngx_memzero(&u, sizeof(ngx_url_t));
        u.url = *v;
        u.no_resolve = 1;

        if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs != 1
            || u.no_port || u.family == AF_UNIX)
        {
            return NGX_DECLINED;
        }
        *(ngx_addr_t **) field = &u.addrs[0];
        return NGX_OK;
    }
}


/* "1ms", "2s", "24h": @ms in the largest unit that divides it. */
static u_char *
ngx_http_upstream_lbkit_check_time_text(u_char *p, u_char *last, int64_t ms)
{
    if (ms != 0 && ms % 3600000 == 0) {
        return ngx_slprintf(p, last, "%Lh", ms / 3600000);
    }

    if (ms != 0 && ms % 60000 == 0) {
        return ngx_slprintf(p, last, "%Lm", ms / 60000);
    }

    if (ms != 0 && ms % 1000 == 0) {
        return ngx_slprintf(p, last, "%Ls", ms / 1000);
    }

    return ngx_slprintf(p, last, ms ? "%Lms" : "%L", ms);
}


/* Whether liblbkit names check kind @kind. */
static ngx_flag_t
ngx_http_upstream_lbkit_check_is_kind(int kind)
{
    const char  *name;

    name = lbk_check_kind_name(kind);

    return lbk_check_kind_from_name(name, ngx_strlen(name)) == kind;
}


/* What goes before item @i of @n in "a, b or c". */
static const char *
ngx_http_upstream_lbkit_check_separator(ngx_uint_t i, ngx_uint_t n)
{
    return i == 0 ? "" : i + 1 == n ? " or " : ", ";
}


/*
 * Logs that @arg (the whole `name=value`, @v its value) is refused, with
 * what @param's type and range expect.
 */
static void
ngx_http_upstream_lbkit_check_refuse(ngx_conf_t *cf,
    ngx_http_upstream_lbkit_check_param_t *param, ngx_str_t *arg,
    ngx_str_t *v)
{
    u_char      *p, *last;
    u_char       expected[256];
    ngx_uint_t   i, n;

    p = expected;
    last = expected + sizeof(expected) - 1;

    switch (param->type) {

    case LBK_PARAM_TIME:
        p = ngx_slprintf(p, last, "a time from ");
        p = ngx_http_upstream_lbkit_check_time_text(p, last, param->min);
        p = ngx_slprintf(p, last, " to ");
        p = ngx_http_upstream_lbkit_check_time_text(p, last, param->max);
        p = ngx_slprintf(p, last, " such as \"500ms\" or \"2s\"%s is expected",
                         param->min == 0 ? " (0 for off)" : "");
        break;

    case LBK_PARAM_NUMBER:
    case LBK_PARAM_PERCENT:
        if (param->max == 0) {
            p = ngx_slprintf(p, last, "a positive %s is expected",
                             param->what);
        } else {
            p = ngx_slprintf(p, last, "a %s from %L to %L is expected",
                             param->what, param->min, param->max);
        }
        break;

    case LBK_PARAM_TEXT:
    case LBK_PARAM_STR:
    case LBK_PARAM_LINES:
        if (v->len == 0) {
            p = ngx_slprintf(p, last, "empty value");
        } else {
            p = ngx_slprintf(p, last, "a %s without '%s' is expected",
                             param->what, param->reject);
        }
        break;

    case LBK_PARAM_WORD:
        for (n = 0; param->words[n].name.len; n++) { /* void */ }

        for (i = 0; i < n; i++) {
            p = ngx_slprintf(p, last, "%s%V",
                             ngx_http_upstream_lbkit_check_separator(i, n),
                             &param->words[i].name);
        }
        p = ngx_slprintf(p, last, " is expected");
        break;

    case LBK_PARAM_KIND:
        /* the kinds liblbkit names, numbered from 1: "tcp, ... or agent" */
        for (n = 0; ngx_http_upstream_lbkit_check_is_kind((int) n + 1); n++) {
            /* void */
        }

        for (i = 0; i < n; i++) {
            p = ngx_slprintf(p, last, "%s%s",
                             ngx_http_upstream_lbkit_check_separator(i, n),
                             lbk_check_kind_name((int) i + 1));
        }
        p = ngx_slprintf(p, last, " is expected");
        break;

    case LBK_PARAM_CHAIN:
        p = ngx_slprintf(p, last, "one of %s is expected",
                         lbk_chain_profile_names());
        break;

    default: /* LBK_PARAM_ADDRESS */
        p = ngx_slprintf(p, last, "a numeric ADDRESS:PORT is expected");
        break;
    }

    *p = '\0';

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\": %s",
                       arg, expected);
}


/* The rules between parameters, once all are read. */
static char *
ngx_http_upstream_lbkit_check_rules(ngx_conf_t *cf,
    ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_http_upstream_lbkit_check_extra_t *extra, ngx_flag_t kind_given)
{
    lbk_check_options  *opts;

    opts = &lscf->check.opts;

    if (extra->headers.len) {
        opts->headers = (const char *) extra->headers.data;
    }

    if (extra->chain) {
        /* a chain profile: a JSON-RPC check of its head call, with its
           lag limit unless max_lag= says otherwise (liblbkit's table, the
           same defaults as lbctl's) */
        if (kind_given && opts->kind != LBK_CHECK_JSONRPC) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"chain=\" needs type=jsonrpc");
            return NGX_CONF_ERROR;
        }
        opts->kind = LBK_CHECK_JSONRPC;
        if (opts->jsonrpc_method == NULL) {
            opts->jsonrpc_method = extra->chain->head_method;
            opts->jsonrpc_params = extra->chain->head_params;
            if (opts->jsonrpc_field == NULL) {
                opts->jsonrpc_field = extra->chain->head_field;
            }
        }
        if (opts->max_lag == 0) {
            opts->max_lag = extra->chain->max_lag;
        }
    }

    if (opts->kind == LBK_CHECK_HTTPS) {
        extra->tls = 1;
    }

    if (extra->tls
        && (opts->kind == LBK_CHECK_TCP || opts->kind == LBK_CHECK_AGENT))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tls=on\" needs type=http, https or jsonrpc");
        return NGX_CONF_ERROR;
    }

    if (opts->kind == LBK_CHECK_AGENT) {
        if (extra->agent == NULL && lscf->check.port == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "type=agent needs agent=ADDRESS:PORT (one "
                               "agent for every server) or port=N (an "
                               "agent on each server's host)");
            return NGX_CONF_ERROR;
        }

    } else if (extra->agent || extra->agent_pool.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"agent=\" and \"agent_pool=\" need type=agent");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_upstream_lbkit_check_free_compiled(void *data)
{
    ngx_http_upstream_lbkit_check_conf_t *ccf = data;

    lbk_check_free(ccf->check);
    ccf->check = NULL;
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_upstream_lbkit_check_ssl_conf(ngx_conf_t *cf,
    ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_http_upstream_lbkit_check_extra_t *extra)
{
    ngx_ssl_t           *ssl;
    ngx_pool_cleanup_t  *cln;

    ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (ssl == NULL) {
        return NGX_ERROR;
    }

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2 | NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    if (extra->tls_verify) {
        if (extra->tls_trusted.len) {
            if (ngx_ssl_trusted_certificate(cf, ssl, &extra->tls_trusted, 4)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

        } else if (SSL_CTX_set_default_verify_paths(ssl->ctx) != 1) {
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                          "SSL_CTX_set_default_verify_paths() failed");
            return NGX_ERROR;
        }

        /*
         * The handshake must not abort on a bad chain: the verdict is taken
         * after it (SSL_get_verify_result), so the check can say why.
         */
        SSL_CTX_set_verify(ssl->ctx, SSL_VERIFY_NONE, NULL);
    }

    lscf->check.ssl = ssl;

    return NGX_OK;
}

#endif
