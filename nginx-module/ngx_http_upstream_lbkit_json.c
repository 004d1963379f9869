/*
 * ngx_http_upstream_lbkit_json.c - JSON output and flat-object input for the
 * module's API and state file (see ngx_http_upstream_lbkit_json.h).
 */

#include "ngx_http_upstream_lbkit_json.h"


void
ngx_lbkit_json_init(ngx_lbkit_json_out_t *j, ngx_pool_t *pool, size_t size)
{
    j->pool = pool;
    j->failed = 0;
    j->start = ngx_pnalloc(pool, size);
    j->pos = j->start;
    j->end = j->start ? j->start + size : NULL;
    j->failed = (j->start == NULL);
}


/* Makes room for @need more bytes (doubling). */
static ngx_int_t
ngx_lbkit_json_reserve(ngx_lbkit_json_out_t *j, size_t need)
{
    size_t   size, used;
    u_char  *p;

    if (j->failed) {
        return NGX_ERROR;
    }

    if ((size_t) (j->end - j->pos) >= need) {
        return NGX_OK;
    }

    used = j->pos - j->start;
    size = (j->end - j->start) * 2;

    while (size - used < need) {
        size *= 2;
    }

    p = ngx_pnalloc(j->pool, size);
    if (p == NULL) {
        j->failed = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(p, j->start, used);
    j->start = p;
    j->pos = p + used;
    j->end = p + size;

    return NGX_OK;
}


void
ngx_lbkit_json_printf(ngx_lbkit_json_out_t *j, const char *fmt, ...)
{
    u_char   buf[1024], *last;
    va_list  args;

    va_start(args, fmt);
    last = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    if (ngx_lbkit_json_reserve(j, last - buf) == NGX_OK) {
        j->pos = ngx_cpymem(j->pos, buf, last - buf);
    }
}


void
ngx_lbkit_json_string(ngx_lbkit_json_out_t *j, u_char *s, size_t len)
{
    size_t   i;
    u_char   c;

    /* worst case: every byte as \u00XX */
    if (ngx_lbkit_json_reserve(j, len * 6 + 2) != NGX_OK) {
        return;
    }

    *j->pos++ = '"';

    for (i = 0; i < len; i++) {
        c = s[i];

        if (c == '"' || c == '\\') {
            *j->pos++ = '\\';
            *j->pos++ = c;

        } else if (c < 0x20 || c == 0x7f) {
            j->pos = ngx_sprintf(j->pos, "\\u%04xd", (ngx_uint_t) c);

        } else {
            *j->pos++ = c;
        }
    }

    *j->pos++ = '"';
}


void
ngx_lbkit_json_trim_comma(ngx_lbkit_json_out_t *j)
{
    if (!j->failed && j->pos > j->start && j->pos[-1] == ',') {
        j->pos--;
    }
}


/* ---------------------------------------------------------------------- */
/* Reader                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct {
    u_char       *p;
    u_char       *last;
    ngx_pool_t   *pool;
    const char   *err;
} ngx_lbkit_json_in_t;


static void
ngx_lbkit_json_skip_ws(ngx_lbkit_json_in_t *in)
{
    while (in->p < in->last
           && (*in->p == ' ' || *in->p == '\t' || *in->p == '\n'
               || *in->p == '\r'))
    {
        in->p++;
    }
}


static ngx_int_t
ngx_lbkit_json_hex4(ngx_lbkit_json_in_t *in, uint32_t *out)
{
    ngx_int_t  v;

    if (in->last - in->p < 4) {
        return NGX_ERROR;
    }

    v = ngx_hextoi(in->p, 4);
    if (v == NGX_ERROR) {
        return NGX_ERROR;
    }

    in->p += 4;
    *out = (uint32_t) v;

    return NGX_OK;
}


/* Network bytes are hostile: strings must be valid UTF-8. */
static ngx_int_t
ngx_lbkit_json_check_utf8(ngx_lbkit_json_in_t *in, ngx_str_t *s)
{
    u_char  *p, *last;

    p = s->data;
    last = s->data + s->len;

    while (p < last) {
        if (*p < 0x80) {
            p++;
            continue;
        }

        if (ngx_utf8_decode(&p, last - p) > 0x10ffff) {
            in->err = "invalid UTF-8 in a string";
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* A string at in->p (its opening quote); the unescaped text into @out. */
static ngx_int_t
ngx_lbkit_json_string_in(ngx_lbkit_json_in_t *in, ngx_str_t *out)
{
    u_char    *d, c;
    uint32_t   cp, lo;

    in->p++;                                     /* '"' */

    /* the unescaped text is never longer than the escaped one */
    d = ngx_pnalloc(in->pool, in->last - in->p + 1);
    if (d == NULL) {
        in->err = "out of memory";
        return NGX_ERROR;
    }

    out->data = d;

    while (in->p < in->last) {
        c = *in->p++;

        if (c == '"') {
            out->len = d - out->data;
            return ngx_lbkit_json_check_utf8(in, out);
        }

        if (c < 0x20) {
            in->err = "control character in a string";
            return NGX_ERROR;
        }

        if (c != '\\') {
            *d++ = c;
            continue;
        }

        if (in->p >= in->last) {
            break;
        }

        c = *in->p++;

        switch (c) {
        case '"': case '\\': case '/':
            *d++ = c;
            break;
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u':
            if (ngx_lbkit_json_hex4(in, &cp) != NGX_OK) {
                in->err = "bad \\u escape";
                return NGX_ERROR;
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (in->last - in->p < 6 || in->p[0] != '\\'
                    || in->p[1] != 'u')
                {
                    in->err = "lone surrogate in a \\u escape";
                    return NGX_ERROR;
                }
                in->p += 2;
                if (ngx_lbkit_json_hex4(in, &lo) != NGX_OK
                    || lo < 0xdc00 || lo > 0xdfff)
                {
                    in->err = "bad surrogate pair in a \\u escape";
                    return NGX_ERROR;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);

            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                in->err = "lone surrogate in a \\u escape";
                return NGX_ERROR;
            }

            if (cp == 0) {
                in->err = "NUL in a string";
                return NGX_ERROR;
            }

            if (cp < 0x80) {
                *d++ = (u_char) cp;
            } else if (cp < 0x800) {
                *d++ = (u_char) (0xc0 | (cp >> 6));
                *d++ = (u_char) (0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                *d++ = (u_char) (0xe0 | (cp >> 12));
                *d++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
                *d++ = (u_char) (0x80 | (cp & 0x3f));
            } else {
                *d++ = (u_char) (0xf0 | (cp >> 18));
                *d++ = (u_char) (0x80 | ((cp >> 12) & 0x3f));
                *d++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
                *d++ = (u_char) (0x80 | (cp & 0x3f));
            }
            break;
        default:
            in->err = "bad escape in a string";
            return NGX_ERROR;
        }
    }

    in->err = "unterminated string";
    return NGX_ERROR;
}


/* Skips decimal digits; returns how many. */
static ngx_uint_t
ngx_lbkit_json_digits(ngx_lbkit_json_in_t *in)
{
    ngx_uint_t  n = 0;

    while (in->p < in->last && *in->p >= '0' && *in->p <= '9') {
        in->p++;
        n++;
    }

    return n;
}


/* A number at in->p, by the JSON grammar; integers also as int64. */
static ngx_int_t
ngx_lbkit_json_number_in(ngx_lbkit_json_in_t *in, ngx_lbkit_json_member_t *m)
{
    u_char      *start;
    ngx_uint_t   digits, neg;
    uint64_t     v;

    start = in->p;
    neg = 0;
    v = 0;
    m->integer = 1;

    if (*in->p == '-') {
        neg = 1;
        in->p++;
    }

    digits = 0;
    if (in->p < in->last && *in->p == '0') {
        in->p++;
        digits = 1;

    } else {
        while (in->p < in->last && *in->p >= '0' && *in->p <= '9') {
            if (v > ((uint64_t) INT64_MAX - 9) / 10) {
                m->integer = 0;
            }
            v = v * 10 + (*in->p - '0');
            in->p++;
            digits++;
        }
    }

    if (digits == 0) {
        in->err = "bad number";
        return NGX_ERROR;
    }

    if (in->p < in->last && *in->p == '.') {
        in->p++;
        if (ngx_lbkit_json_digits(in) == 0) {
            in->err = "bad number";
            return NGX_ERROR;
        }
        m->integer = 0;
    }

    if (in->p < in->last && (*in->p == 'e' || *in->p == 'E')) {
        in->p++;
        if (in->p < in->last && (*in->p == '+' || *in->p == '-')) {
            in->p++;
        }
        if (ngx_lbkit_json_digits(in) == 0) {
            in->err = "bad number";
            return NGX_ERROR;
        }
        m->integer = 0;
    }

    m->type = NGX_LBKIT_JSON_NUMBER;
    m->str.data = start;
    m->str.len = in->p - start;
    m->number = neg ? -(int64_t) v : (int64_t) v;

    return NGX_OK;
}


static ngx_int_t
ngx_lbkit_json_word(ngx_lbkit_json_in_t *in, const char *word)
{
    size_t  len = ngx_strlen(word);

    if ((size_t) (in->last - in->p) < len
        || ngx_strncmp(in->p, word, len) != 0)
    {
        in->err = "unexpected token";
        return NGX_ERROR;
    }

    in->p += len;

    return NGX_OK;
}


ngx_int_t
ngx_lbkit_json_parse_flat(ngx_pool_t *pool, u_char *p, size_t len,
    ngx_lbkit_json_member_t *members, ngx_uint_t *n, ngx_str_t *nested,
    const char **err)
{
    ngx_lbkit_json_in_t       in;
    ngx_lbkit_json_member_t  *m;

    in.p = p;
    in.last = p + len;
    in.pool = pool;
    in.err = "malformed JSON";
    *n = 0;

    ngx_lbkit_json_skip_ws(&in);

    if (in.p >= in.last || *in.p != '{') {
        *err = "expected a JSON object";
        return NGX_ERROR;
    }

    in.p++;
    ngx_lbkit_json_skip_ws(&in);

    if (in.p < in.last && *in.p == '}') {
        in.p++;
        goto done;
    }

    for ( ;; ) {
        ngx_lbkit_json_skip_ws(&in);

        if (in.p >= in.last || *in.p != '"') {
            *err = "expected a member name";
            return NGX_ERROR;
        }

        if (*n >= NGX_LBKIT_JSON_MAX_MEMBERS) {
            *err = "too many members";
            return NGX_ERROR;
        }

        m = &members[*n];
        ngx_memzero(m, sizeof(*m));

        if (ngx_lbkit_json_string_in(&in, &m->key) != NGX_OK) {
            *err = in.err;
            return NGX_ERROR;
        }

        ngx_lbkit_json_skip_ws(&in);

        if (in.p >= in.last || *in.p != ':') {
            *err = "expected ':'";
            return NGX_ERROR;
        }

        in.p++;
        ngx_lbkit_json_skip_ws(&in);

        if (in.p >= in.last) {
            *err = "unexpected end";
            return NGX_ERROR;
        }

        switch (*in.p) {
        case '"':
            m->type = NGX_LBKIT_JSON_STRING;
            if (ngx_lbkit_json_string_in(&in, &m->str) != NGX_OK) {
                *err = in.err;
                return NGX_ERROR;
            }
            break;
        case 't':
        case 'f':
            m->type = NGX_LBKIT_JSON_BOOL;
            m->boolean = (*in.p == 't');
            if (ngx_lbkit_json_word(&in, m->boolean ? "true" : "false")
                != NGX_OK)
            {
                *err = in.err;
                return NGX_ERROR;
            }
            break;
        case 'n':
            m->type = NGX_LBKIT_JSON_NULL;
            if (ngx_lbkit_json_word(&in, "null") != NGX_OK) {
                *err = in.err;
                return NGX_ERROR;
            }
            break;
        case '{':
        case '[':
            *nested = m->key;
            return NGX_DECLINED;
        default:
            if (*in.p == '-' || (*in.p >= '0' && *in.p <= '9')) {
                if (ngx_lbkit_json_number_in(&in, m) != NGX_OK) {
                    *err = in.err;
                    return NGX_ERROR;
                }
                break;
            }
            *err = "unexpected token";
            return NGX_ERROR;
        }

        (*n)++;
        ngx_lbkit_json_skip_ws(&in);

        if (in.p < in.last && *in.p == ',') {
            in.p++;
            continue;
        }

        if (in.p < in.last && *in.p == '}') {
            in.p++;
            break;
        }

        *err = "expected ',' or '}'";
        return NGX_ERROR;
    }

done:

    ngx_lbkit_json_skip_ws(&in);

    if (in.p != in.last) {
        *err = "trailing data after the object";
        return NGX_ERROR;
    }

    return NGX_OK;
}
