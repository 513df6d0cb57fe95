// A vendor's extract file written by the JDK, not by Ikou: fixed-length EBCDIC records encoded
// with the JDK's own x-IBM930 charset (SO/SI around DBCS in PIC X, pure DBCS in PIC N, zoned
// digits in PIC 9), blank-padded (0x40 / 0x4040) as a COBOL MOVE leaves them.
//
//   java VendorFileWriter.java LAYOUT.tsv VALUES.tsv OUT.dat LRECL
//
// LAYOUT.tsv: layout<TAB>field<TAB>offset<TAB>size<TAB>X|N|9   (offsets 0-based, every field)
// VALUES.tsv: layout<TAB>value<TAB>value...                  (one record a line, field order)
// Used by tests/integration/test_land_jdk.py; everything it writes is synthetic.

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.Charset;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CodingErrorAction;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class VendorFileWriter {
    record Field(String name, int offset, int size, char kind) {}

    public static void main(String[] args) throws IOException {
        Map<String, List<Field>> layouts = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of(args[0]))) {
            if (line.isEmpty()) continue;
            String[] p = line.split("\t", -1);
            layouts.computeIfAbsent(p[0], k -> new ArrayList<>())
                .add(new Field(p[1], Integer.parseInt(p[2]), Integer.parseInt(p[3]), p[4].charAt(0)));
        }
        int lrecl = Integer.parseInt(args[3]);
        CharsetEncoder enc = Charset.forName("x-IBM930").newEncoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
        int n = 0;
        try (BufferedOutputStream out = new BufferedOutputStream(new FileOutputStream(args[2]))) {
            for (String line : Files.readAllLines(Path.of(args[1]))) {
                if (line.isEmpty()) continue;
                String[] v = line.split("\t", -1);
                List<Field> fields = layouts.get(v[0]);
                if (fields == null) throw new IllegalArgumentException("line " + (n + 1) + ": no layout " + v[0]);
                byte[] rec = new byte[lrecl];
                Arrays.fill(rec, (byte) 0x40);
                for (int i = 0; i < fields.size(); i++) {
                    Field f = fields.get(i);
                    String value = i + 1 < v.length ? v[i + 1] : "";
                    byte[] b = encode(enc, value, f, n + 1);
                    System.arraycopy(b, 0, rec, f.offset(), b.length);
                }
                out.write(rec);
                n++;
            }
        }
        System.out.println(n + " records written by the JDK (" + Charset.forName("x-IBM930") + ")");
    }

    static byte[] encode(CharsetEncoder enc, String value, Field f, int record) {
        byte[] b;
        try {
            enc.reset();
            ByteBuffer bb = enc.encode(CharBuffer.wrap(value));
            b = Arrays.copyOf(bb.array(), bb.limit());
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException("record " + record + " field " + f.name() + ": not in IBM930", e);
        }
        if (f.kind() == 'N' && b.length >= 2 && b[0] == 0x0E && b[b.length - 1] == 0x0F) {
            b = Arrays.copyOfRange(b, 1, b.length - 1); // PIC N: DBCS without shift codes
        }
        if (f.kind() == '9') {
            // zoned, unsigned: right-aligned, zero-filled (as a MOVE to PIC 9(n) does)
            byte[] z = new byte[f.size()];
            Arrays.fill(z, (byte) 0xF0);
            System.arraycopy(b, 0, z, f.size() - b.length, b.length);
            return z;
        }
        if (b.length > f.size()) {
            throw new IllegalArgumentException("record " + record + " field " + f.name() + ": "
                + b.length + " bytes in a " + f.size() + "-byte field");
        }
        byte[] padded = new byte[f.size()];
        if (f.kind() == 'N') {
            for (int i = 0; i + 1 < padded.length; i += 2) { padded[i] = 0x40; padded[i + 1] = 0x40; }
        } else {
            Arrays.fill(padded, (byte) 0x40);
        }
        System.arraycopy(b, 0, padded, 0, b.length);
        return padded;
    }
}
