/*
 * ngx_http_upstream_lbkit_json.h - the small JSON writer and flat-object
 * reader the module's API uses (responses, request bodies, the state file).
 *
 * The reader takes one JSON object whose members are strings, numbers,
 * booleans or null (NGINX Plus's server objects are flat); a nested object or
 * array is reported apart from malformed JSON, as the Plus API does.  It never
 * recurses, bounds the member count, and checks UTF-8.
 */

#ifndef NGX_HTTP_UPSTREAM_LBKIT_JSON_H_INCLUDED
#define NGX_HTTP_UPSTREAM_LBKIT_JSON_H_INCLUDED

#include <ngx_config.h>
#include <ngx_core.h>


/* A growing output buffer in a pool; `failed` is set on allocation failure
   and every later call is then a no-op. */
typedef struct {
    ngx_pool_t   *pool;
    u_char       *start;
    u_char       *pos;
    u_char       *end;
    ngx_uint_t    failed;
} ngx_lbkit_json_out_t;

void ngx_lbkit_json_init(ngx_lbkit_json_out_t *j, ngx_pool_t *pool,
    size_t size);
/* Appends text formatted as ngx_sprintf() does. */
void ngx_lbkit_json_printf(ngx_lbkit_json_out_t *j, const char *fmt, ...);
/* Appends a JSON string (quotes included) with @s escaped. */
void ngx_lbkit_json_string(ngx_lbkit_json_out_t *j, u_char *s, size_t len);
/* Drops a trailing ',' (after the last member of an object or array). */
void ngx_lbkit_json_trim_comma(ngx_lbkit_json_out_t *j);


#define NGX_LBKIT_JSON_STRING  1
#define NGX_LBKIT_JSON_NUMBER  2
#define NGX_LBKIT_JSON_BOOL    3
#define NGX_LBKIT_JSON_NULL    4

#define NGX_LBKIT_JSON_MAX_MEMBERS  32

typedef struct {
    ngx_str_t     key;        /* unescaped, in the caller's pool */
    ngx_uint_t    type;       /* NGX_LBKIT_JSON_* */
    ngx_str_t     str;        /* STRING: unescaped value; NUMBER: its text */
    int64_t       number;     /* NUMBER: value, when `integer` */
    ngx_uint_t    integer;    /* NUMBER: an integer within int64 */
    ngx_uint_t    boolean;    /* BOOL */
} ngx_lbkit_json_member_t;

/*
 * Parses @len bytes as one flat JSON object into @members (at most
 * NGX_LBKIT_JSON_MAX_MEMBERS).  Returns NGX_OK; NGX_DECLINED when a member
 * is an object or array (*@nested = its key); NGX_ERROR for malformed JSON,
 * with a short reason in *@err.
 */
ngx_int_t ngx_lbkit_json_parse_flat(ngx_pool_t *pool, u_char *p, size_t len,
    ngx_lbkit_json_member_t *members, ngx_uint_t *n, ngx_str_t *nested,
    const char **err);

#endif /* NGX_HTTP_UPSTREAM_LBKIT_JSON_H_INCLUDED */
