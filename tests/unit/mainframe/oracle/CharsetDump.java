// Test oracle: the JDK's own charsets decode every code of a layout; one line per code:
//   <code hex>\t<code points as hex, space separated, or "-" when the JDK refuses the code>
//   (each line led by the charset name and a tab)
// Usage: java CharsetDump.java sbcs|cp932|eucjp CHARSET [CHARSET ...]
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;

public class CharsetDump {
    static String decode(CharsetDecoder dec, byte[] b) {
        try {
            dec.reset();
            CharBuffer out = dec.decode(ByteBuffer.wrap(b));
            String s = out.toString();
            if (s.isEmpty()) return "-";
            StringBuilder sb = new StringBuilder();
            s.codePoints().forEach(cp -> sb.append(sb.length() > 0 ? " " : "").append(String.format("%04X", cp)));
            return sb.toString();
        } catch (CharacterCodingException e) {
            return "-";
        }
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02X", x & 0xFF));
        return sb.toString();
    }

    public static void main(String[] args) {
        StringBuilder out = new StringBuilder();
        java.util.List<byte[]> codes = new java.util.ArrayList<>();
        for (int b = 0; b < 256; b++) codes.add(new byte[] {(byte) b});
        if (args[0].equals("cp932")) {
            for (int h = 0x81; h <= 0xFC; h++) {
                if (h >= 0xA0 && h < 0xE0) continue;
                for (int t = 0x40; t <= 0xFC; t++) if (t != 0x7F) codes.add(new byte[] {(byte) h, (byte) t});
            }
        } else if (args[0].equals("eucjp")) {
            for (int t = 0xA1; t <= 0xDF; t++) codes.add(new byte[] {(byte) 0x8E, (byte) t});
            for (int h = 0xA1; h <= 0xFE; h++)
                for (int t = 0xA1; t <= 0xFE; t++) codes.add(new byte[] {(byte) h, (byte) t});
            for (int h = 0xA1; h <= 0xFE; h++)
                for (int t = 0xA1; t <= 0xFE; t++) codes.add(new byte[] {(byte) 0x8F, (byte) h, (byte) t});
        }
        for (int i = 1; i < args.length; i++) {
            CharsetDecoder dec = Charset.forName(args[i]).newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
            for (byte[] c : codes)
                out.append(args[i]).append('\t').append(hex(c)).append('\t').append(decode(dec, c)).append('\n');
        }
        System.out.print(out);
    }
}
