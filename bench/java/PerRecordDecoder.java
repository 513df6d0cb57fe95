import java.io.BufferedInputStream;
import java.io.BufferedWriter;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.math.BigDecimal;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;

/**
 * A hand-written per-record decoder of the benchmark's 140-byte cp930 layout (figure (b) of
 * ikou.bench.decode): what a migration engineer would write in Java with the JDK's IBM930
 * charset. Reads RECFM FB records one at a time, decodes field by field and writes the same CSV
 * columns as `ikou decode ... -o OUT.csv` (UTF-8, CRLF, strings quoted, lineage columns).
 *
 *   01  REC140.
 *       05  REC-TYPE            PIC X.                  offset   0
 *       05  ATENA-NO            PIC 9(10).                       1
 *       05  SHIMEI-KANJI        PIC N(12).                      11  DBCS, no shift codes
 *       05  SHIMEI-KANA         PIC X(20).                      35
 *       05  BIRTH-YMD           PIC 9(8).                       55
 *       05  ADDRESS             PIC X(50).                      63  mixed, SO/SI
 *       05  TAX-AMOUNT          PIC S9(9)V99 COMP-3.           113
 *       05  BALANCE             PIC S9(7).                     119  zoned, overpunched sign
 *       05  HOUSEHOLD-SIZE      PIC S9(4) COMP.                126
 *       05  FILLER              PIC X(12).                     128
 *
 * Usage: java PerRecordDecoder INPUT OUTPUT.csv [FILE-NAME]
 */
public final class PerRecordDecoder {
    static final int LRECL = 140;
    static final Charset CS = Charset.forName("x-IBM930");

    public static void main(String[] args) throws IOException {
        long t0 = System.nanoTime();
        String fileName = args.length > 2 ? args[2] : args[0];
        long records = 0, bad = 0;
        byte[] rec = new byte[LRECL];
        byte[] dbcs = new byte[24 + 2];
        try (InputStream in = new BufferedInputStream(new FileInputStream(args[0]), 1 << 20);
             Writer out = new BufferedWriter(new OutputStreamWriter(new FileOutputStream(args[1]),
                     StandardCharsets.UTF_8), 1 << 20)) {
            out.write("\"REC-TYPE\",\"ATENA-NO\",\"SHIMEI-KANJI\",\"SHIMEI-KANA\",\"BIRTH-YMD\",\"ADDRESS\","
                    + "\"TAX-AMOUNT\",\"BALANCE\",\"HOUSEHOLD-SIZE\",\"_file\",\"_record\",\"_offset\"\r\n");
            String quotedFile = quote(fileName);
            StringBuilder sb = new StringBuilder(512);
            while (in.readNBytes(rec, 0, LRECL) == LRECL) {
                try {
                    sb.setLength(0);
                    sb.append(quote(rtrim(new String(rec, 0, 1, CS), " "))).append(',');
                    sb.append(zoned(rec, 1, 10, false)).append(',');
                    dbcs[0] = 0x0E;
                    System.arraycopy(rec, 11, dbcs, 1, 24);
                    dbcs[25] = 0x0F;
                    sb.append(quote(rtrim(new String(dbcs, 0, 26, CS), "\u3000"))).append(',');
                    sb.append(quote(rtrim(new String(rec, 35, 20, CS), " "))).append(',');
                    sb.append(zoned(rec, 55, 8, false)).append(',');
                    sb.append(quote(rtrim(new String(rec, 63, 50, CS), " \u3000"))).append(',');
                    sb.append(BigDecimal.valueOf(packed(rec, 113, 6), 2).toPlainString()).append(',');
                    sb.append(zoned(rec, 119, 7, true)).append(',');
                    sb.append((short) (((rec[126] & 0xFF) << 8) | (rec[127] & 0xFF))).append(',');
                    sb.append(quotedFile).append(',').append(records).append(',').append(records * LRECL);
                    sb.append("\r\n");
                    out.append(sb);
                } catch (IllegalArgumentException e) {
                    bad++;
                }
                records++;
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("records=%d bad=%d seconds=%.3f%n", records, bad, secs);
    }

    static long zoned(byte[] r, int off, int len, boolean signed) {
        long v = 0;
        for (int i = 0; i < len; i++) {
            int b = r[off + i] & 0xFF;
            int d = b & 0x0F, z = b >> 4;
            if (d > 9 || (z != 0xF && !(i == len - 1 && z >= 0xA))) throw new IllegalArgumentException("zoned");
            v = v * 10 + d;
        }
        int z = (r[off + len - 1] & 0xFF) >> 4;
        return signed && (z == 0xD || z == 0xB) ? -v : v;
    }

    static long packed(byte[] r, int off, int len) {
        long v = 0;
        for (int i = 0; i < len - 1; i++) {
            int b = r[off + i] & 0xFF;
            int hi = b >> 4, lo = b & 0x0F;
            if (hi > 9 || lo > 9) throw new IllegalArgumentException("packed");
            v = v * 100 + hi * 10 + lo;
        }
        int b = r[off + len - 1] & 0xFF;
        int hi = b >> 4, sign = b & 0x0F;
        if (hi > 9 || sign < 0xA) throw new IllegalArgumentException("packed");
        v = v * 10 + hi;
        return sign == 0xD || sign == 0xB ? -v : v;
    }

    static String rtrim(String s, String pad) {
        int n = s.length();
        while (n > 0 && pad.indexOf(s.charAt(n - 1)) >= 0) n--;
        return s.substring(0, n);
    }

    static String quote(String s) {
        return "\"" + (s.indexOf('"') >= 0 ? s.replace("\"", "\"\"") : s) + "\"";
    }
}
