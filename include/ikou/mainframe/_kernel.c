/*
 * ikou.mainframe text kernel: SBCS / DBCS / mixed (SO/SI) fields -> Arrow string buffers.
 *
 * Built on first use by ikou/mainframe/kernel.py (cc -O3 -shared -fPIC) and called through
 * ctypes, one call per field and chunk. It is the fast path of ikou.mainframe.decode's
 * decode_sbcs / decode_dbcs / decode_mixed and decodes only what is plain: every byte or code
 * defined in the code page with status 0, balanced single-byte shift codes, padding trimmed.
 * Any other row (an undefined byte, a 外字 or sequence code, an undecodable code, unbalanced
 * shifts, an odd DBCS run) is flagged in `slow` with an empty string, and the caller decodes
 * those rows again with the numpy implementation -- so every error, 外字 occurrence and detail
 * comes from one implementation, and the kernel cannot change a result, only its speed.
 *
 * Tables: UTF-8 bytes of each character packed little-endian into a uint32 and their count
 * (the numpy decoders' TextTables); the output buffer needs 4 bytes of slack (each character
 * is stored as a 4-byte word, the pointer advances by its length). Little-endian hosts only.
 */
#include <stdint.h>
#include <string.h>

#define K_SBCS 0
#define K_DBCS 1
#define K_MIXED 2

/* a table entry: UTF-8 bytes (low 32 bits), byte count (bits 32-39), status (bits 40-47) */
#define WORD(e) ((uint32_t)(e))
#define LEN(e) ((uint8_t)((e) >> 32))
#define PLAIN(e) (LEN(e) != 0 && ((e) >> 40) == 0)

static inline uint8_t *put(uint8_t *o, uint64_t e) {
    uint32_t word = WORD(e);
    memcpy(o, &word, 4);
    return o + LEN(e);
}

int64_t ikou_text(const uint8_t *b, int64_t m, int64_t w, int64_t stride, int kind,
                  const uint64_t *sbt, const uint64_t *dbt,
                  int so1, int so2, int si, int sbsp, int dbsp, int keep,
                  uint8_t *out, int32_t *offs, uint8_t *slow) {
    int64_t nslow = 0;
    uint8_t *o = out;
    offs[0] = 0;
    if (so2 < 0) so2 = so1;
    for (int64_t r = 0; r < m; r++) {
        const uint8_t *p = b + r * stride;
        uint8_t *start = o;
        uint8_t *keep_end = o;
        int bad = 0;
        if (kind == K_SBCS) {
            int64_t n = w;
            if (!keep)
                while (n > 0 && p[n - 1] == sbsp) n--;
            for (int64_t i = 0; i < n; i++) {
                uint64_t e = sbt[p[i]];
                if (!PLAIN(e)) { bad = 1; break; }
                o = put(o, e);
            }
            keep_end = o;
        } else if (kind == K_DBCS) {
            int64_t n = w / 2;
            if (!keep) {
                while (n > 0) {
                    int c = (p[2 * n - 2] << 8) | p[2 * n - 1];
                    if (c == 0x4040 || c == dbsp) n--; else break;
                }
            }
            for (int64_t i = 0; i < n; i++) {
                uint64_t e = dbt[(p[2 * i] << 8) | p[2 * i + 1]];
                if (!PLAIN(e)) { bad = 1; break; }
                o = put(o, e);
            }
            keep_end = o;
        } else {
            /* trailing SBCS spaces after the last shift code are padding in a valid row; in a
               row that ends in DBCS state they change nothing: it stays unbalanced */
            int64_t n = w;
            if (!keep)
                while (n > 0 && p[n - 1] == sbsp) n--;
            int64_t i = 0;
            while (i < n && !bad) {
                /* an SBCS run */
                while (i < n) {
                    int x = p[i];
                    if (x == so1 || x == so2) break;
                    uint64_t e = sbt[x];
                    if (x == si || !PLAIN(e)) { bad = 1; break; }
                    o = put(o, e);
                    if (x != sbsp) keep_end = o;
                    i++;
                }
                if (bad || i >= n) break;
                i++; /* shift-out */
                /* a DBCS run up to its shift-in */
                for (;;) {
                    if (i >= n) { bad = 1; break; }
                    int x = p[i];
                    if (x == si) { i++; break; }
                    if (x == so1 || x == so2 || i + 1 >= n) { bad = 1; break; }
                    int y = p[i + 1];
                    if (y == si || y == so1 || y == so2) { bad = 1; break; }
                    int c = (x << 8) | y;
                    uint64_t e = dbt[c];
                    if (!PLAIN(e)) { bad = 1; break; }
                    o = put(o, e);
                    if (c != 0x4040 && c != dbsp) keep_end = o;
                    i += 2;
                }
            }
        }
        if (bad) {
            slow[r] = 1;
            nslow++;
            o = start;
        } else if (!keep) {
            o = keep_end;
        }
        offs[r + 1] = (int32_t)(o - out);
    }
    return nslow;
}

/*
 * Zoned decimal (no separate sign), at most 18 digits: the value of each plain row, sign
 * applied, unscaled. sign_col: the column of the (overpunched) sign, signed: 1 when the field
 * is signed. Plain: every zone F except the sign column (signed: zone A-F, unsigned: F or C),
 * every digit 0-9. Other rows are flagged slow (the numpy decoder reports them).
 */
int64_t ikou_zoned(const uint8_t *b, int64_t m, int64_t w, int64_t stride, int sign_col, int is_signed,
                   int64_t *out, uint8_t *slow) {
    int64_t nslow = 0;
    for (int64_t r = 0; r < m; r++) {
        const uint8_t *p = b + r * stride;
        uint64_t v = 0; /* unsigned: no overflow UB on a bad row */
        int bad = 0;
        for (int64_t i = 0; i < w; i++) {
            int x = p[i];
            int z = x >> 4, d = x & 15;
            if (d > 9) bad = 1;
            if (i == sign_col) {
                if (is_signed ? z < 0xA : !(z == 0xF || z == 0xC)) bad = 1;
            } else if (z != 0xF) {
                bad = 1;
            }
            v = v * 10 + d;
        }
        if (bad) {
            slow[r] = 1;
            nslow++;
            out[r] = 0;
            continue;
        }
        int zs = p[sign_col] >> 4;
        out[r] = (is_signed && (zs == 0xD || zs == 0xB)) ? -(int64_t)v : (int64_t)v;
    }
    return nslow;
}

/*
 * Packed decimal, at most 18 digits: digit nibbles 0-9, leading nibbles beyond `digits` zero,
 * sign nibble C/A/E/F (+) or D/B (-; signed fields only). Other rows are flagged slow.
 */
int64_t ikou_packed(const uint8_t *b, int64_t m, int64_t w, int64_t stride, int digits, int is_signed,
                    int64_t *out, uint8_t *slow) {
    int64_t nslow = 0;
    int64_t nd = 2 * w - 1;
    int64_t extra = nd - digits;
    for (int64_t r = 0; r < m; r++) {
        const uint8_t *p = b + r * stride;
        uint64_t v = 0; /* unsigned: no overflow UB on a bad row */
        int bad = 0;
        for (int64_t k = 0; k < nd; k++) {
            int x = p[k >> 1];
            int d = (k & 1) ? (x & 15) : (x >> 4);
            if (d > 9 || (k < extra && d != 0)) bad = 1;
            v = v * 10 + d;
        }
        int s = p[w - 1] & 15;
        int neg = (s == 0xD || s == 0xB);
        if (s < 0xA || (neg && !is_signed)) bad = 1;
        if (bad) {
            slow[r] = 1;
            nslow++;
            out[r] = 0;
            continue;
        }
        out[r] = neg ? -(int64_t)v : (int64_t)v;
    }
    return nslow;
}
