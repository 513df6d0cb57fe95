// Independent test oracle for ikou.moji.codepages: the JDK's own IBM930 / IBM939 charsets.
//
// Writes two committed files (tests need no Java; they read these):
//   tests/data/oracle/jdk_corpus.tsv    ~300 synthetic Japanese names / addresses, encoded by the
//                                       JDK's x-IBM930 and x-IBM939 encoders, decoded back by the JDK
//   tests/data/oracle/jdk_vs_iconv.tsv  every code / character where the JDK's x-IBM930 / x-IBM939
//                                       differ from the iconv-generated tables in
//                                       include/ikou/moji/tables (decode: every byte and every DBCS
//                                       code 0x4040-0xFEFE; encode: every scalar value of planes
//                                       0-3, where all CJK lives -- the JDK's IBM930/939 map nothing
//                                       beyond the BMP)
//
// Run from the repository root (Java 17; nothing outside the JDK):
//   java scripts/oracle/JdkOracle.java            # writes both files
//   java scripts/oracle/JdkOracle.java --stdout   # both to stdout, nothing written (used by a test)
//
// All data is synthetic: the names are common surnames and given names combined at random, the
// addresses are made up; there is no real person behind any line.

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;

public class JdkOracle {

    // ---------------------------------------------------------------------------------- corpus

    static final String[][] SURNAMES = {
        {"佐藤", "ｻﾄｳ"}, {"鈴木", "ｽｽﾞｷ"}, {"高橋", "ﾀｶﾊｼ"}, {"髙橋", "ﾀｶﾊｼ"}, {"田中", "ﾀﾅｶ"},
        {"渡辺", "ﾜﾀﾅﾍﾞ"}, {"渡邊", "ﾜﾀﾅﾍﾞ"}, {"渡邉", "ﾜﾀﾅﾍﾞ"}, {"伊藤", "ｲﾄｳ"}, {"山本", "ﾔﾏﾓﾄ"},
        {"中村", "ﾅｶﾑﾗ"}, {"小林", "ｺﾊﾞﾔｼ"}, {"加藤", "ｶﾄｳ"}, {"吉田", "ﾖｼﾀﾞ"}, {"山田", "ﾔﾏﾀﾞ"},
        {"佐々木", "ｻｻｷ"}, {"山口", "ﾔﾏｸﾞﾁ"}, {"松本", "ﾏﾂﾓﾄ"}, {"井上", "ｲﾉｳｴ"}, {"木村", "ｷﾑﾗ"},
        {"斎藤", "ｻｲﾄｳ"}, {"齋藤", "ｻｲﾄｳ"}, {"斉藤", "ｻｲﾄｳ"}, {"清水", "ｼﾐｽﾞ"}, {"山崎", "ﾔﾏｻﾞｷ"},
        {"山﨑", "ﾔﾏｻﾞｷ"}, {"長谷川", "ﾊｾｶﾞﾜ"}, {"藤田", "ﾌｼﾞﾀ"}, {"後藤", "ｺﾞﾄｳ"}, {"近藤", "ｺﾝﾄﾞｳ"},
        {"澤田", "ｻﾜﾀﾞ"}, {"沢田", "ｻﾜﾀﾞ"}, {"濱田", "ﾊﾏﾀﾞ"}, {"浜田", "ﾊﾏﾀﾞ"}, {"廣瀬", "ﾋﾛｾ"},
        {"広瀬", "ﾋﾛｾ"}, {"櫻井", "ｻｸﾗｲ"}, {"桜井", "ｻｸﾗｲ"}, {"宮﨑", "ﾐﾔｻﾞｷ"}, {"岩﨑", "ｲﾜｻｷ"},
        {"田邊", "ﾀﾅﾍﾞ"}, {"髙木", "ﾀｶｷﾞ"}, {"國分", "ｺｸﾌﾞﾝ"}, {"德永", "ﾄｸﾅｶﾞ"}, {"大澤", "ｵｵｻﾜ"},
        {"小濱", "ｺﾊﾏ"}, {"廣田", "ﾋﾛﾀ"}, {"櫻田", "ｻｸﾗﾀﾞ"}, {"邊見", "ﾍﾝﾐ"}, {"齋田", "ｻｲﾀ"},
        {"長谷部", "ﾊｾﾍﾞ"}, {"大和田", "ｵｵﾜﾀﾞ"}, {"五十嵐", "ｲｶﾞﾗｼ"}, {"東海林", "ｼｮｳｼﾞ"},
        {"小鳥遊", "ﾀｶﾅｼ"}, {"四月一日", "ﾜﾀﾇｷ"}, {"一", "ﾆﾉﾏｴ"}, {"阿部", "ｱﾍﾞ"}, {"菅野", "ｶﾝﾉ"},
    };
    static final String[][] GIVEN = {
        {"太郎", "ﾀﾛｳ"}, {"花子", "ﾊﾅｺ"}, {"一郎", "ｲﾁﾛｳ"}, {"健太", "ｹﾝﾀ"}, {"翔太", "ｼｮｳﾀ"},
        {"美咲", "ﾐｻｷ"}, {"陽子", "ﾖｳｺ"}, {"裕子", "ﾕｳｺ"}, {"直樹", "ﾅｵｷ"}, {"大輔", "ﾀﾞｲｽｹ"},
        {"恵子", "ｹｲｺ"}, {"惠子", "ｹｲｺ"}, {"博之", "ﾋﾛﾕｷ"}, {"隆", "ﾀｶｼ"}, {"髙志", "ﾀｶｼ"},
        {"眞理子", "ﾏﾘｺ"}, {"榮一", "ｴｲｲﾁ"}, {"龍之介", "ﾘｭｳﾉｽｹ"}, {"彌生", "ﾔﾖｲ"}, {"貴之", "ﾀｶﾕｷ"},
        {"智子", "ﾄﾓｺ"}, {"由美子", "ﾕﾐｺ"}, {"聡", "ｻﾄｼ"}, {"亮", "ﾘｮｳ"}, {"結衣", "ﾕｲ"},
        {"陽菜", "ﾋﾅ"}, {"蓮", "ﾚﾝ"}, {"悠真", "ﾕｳﾏ"}, {"廣志", "ﾋﾛｼ"}, {"澄子", "ｽﾐｺ"},
        {"與四郎", "ﾖｼﾛｳ"}, {"傳次", "ﾃﾞﾝｼﾞ"}, {"圓", "ﾏﾄﾞｶ"}, {"櫻子", "ｻｸﾗｺ"}, {"濱子", "ﾊﾏｺ"},
    };
    static final String[] CITIES = {
        "東京都千代田区", "大阪府大阪市北区", "神奈川県横浜市中区", "愛知県名古屋市中区",
        "福岡県福岡市博多区", "北海道札幌市中央区", "兵庫県神戸市中央区", "京都府京都市左京区",
        "広島県広島市南区", "宮城県仙台市青葉区", "埼玉県さいたま市浦和区", "千葉県千葉市美浜区",
        "静岡県浜松市中央区", "新潟県新潟市中央区", "熊本県熊本市南区", "岡山県岡山市北区",
        "神奈川県相模原市南区", "大阪府堺市堺区", "北九州市小倉北区", "川崎市川崎区",
    };
    static final String[] TOWNS = {
        "丸の内", "梅田", "山下町", "栄", "博多駅前", "大通西", "三宮町", "下鴨", "宇品", "一番町",
        "高砂", "中瀬", "鍛冶町", "萬代", "水前寺", "大字濱田", "字髙畑", "櫻木町", "澤町", "廣小路",
        "﨑山", "邊田", "ケ丘", "ヶ谷", "の木", "ノ木",
    };
    static final String[] BUILDINGS = {
        "", "", "", " ｻﾝﾊｲﾂ101", " Grand Maison 203", " ﾊﾟｰｸﾋﾙｽﾞ A-1205", " Villa Sakura #3",
        " ﾒｿﾞﾝ･ﾄﾞ･ｿﾚｲﾕ 2F", "　コーポ山田２０１号", " ｺｰﾎﾟ田中 B棟", " Sunny Court 5F (East)",
        " ﾚｼﾞﾃﾞﾝｽ櫻 1001", " Maison de Hamada 302",
    };
    // wave dash and friends, each in a small address-like context
    static final String[] DASHES = {
        "\u301c", "\uff5e", "\u2014", "\u2015", "\u2016", "\u2225", "\u00a6", "\uffe4", "\u2212", "\uff0d",
    };
    // old / variant kanji that have no code of their own in DBCS 300: the JDK (and iconv) encode
    // them one way, onto the code of the new form
    static final String[] ONE_WAY = {"頰", "塡", "醬", "囊", "蟬", "鷗", "剝", "禱", "繫", "俠", "萊", "麴"};
    // characters with no code in CCSID 930 / 939 at all
    static final String[] UNENCODABLE = {"𠮷田", "𡈽井", "髙橋①", "ｻﾄｳ♥", "ﾃｽﾄ\uD83D\uDE00", "Zoë", "渡邊\uD842\uDFB7", "価格€"};

    static String fullWidthDigits(int n) {
        StringBuilder b = new StringBuilder();
        for (char c : Integer.toString(n).toCharArray()) b.append((char) (c - '0' + '０'));
        return b.toString();
    }

    static final String[] KANJI_DIGITS = {"〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"};

    static String kanjiNumber(int n) {
        if (n < 10) return KANJI_DIGITS[n];
        if (n < 20) return "十" + (n % 10 == 0 ? "" : KANJI_DIGITS[n % 10]);
        return KANJI_DIGITS[n / 10] + "十" + (n % 10 == 0 ? "" : KANJI_DIGITS[n % 10]);
    }

    record Item(String id, String kind, String text) {}

    static List<Item> corpus() {
        Random r = new Random(20261128L);
        List<Item> items = new ArrayList<>();
        LinkedHashSet<String> seen = new LinkedHashSet<>();
        // names in kanji, DBCS only (PIC N): surname, ideographic space, given name
        while (items.size() < 100) {
            String[] s = SURNAMES[r.nextInt(SURNAMES.length)], g = GIVEN[r.nextInt(GIVEN.length)];
            String t = s[0] + "\u3000" + g[0];
            if (seen.add(t)) items.add(new Item(String.format("name%03d", items.size()), "dbcs", t));
        }
        // readings in half-width katakana (SBCS only)
        int n = 0;
        while (n < 60) {
            String[] s = SURNAMES[r.nextInt(SURNAMES.length)], g = GIVEN[r.nextInt(GIVEN.length)];
            String t = s[1] + " " + g[1];
            if (seen.add(t)) items.add(new Item(String.format("kana%03d", n++), "sbcs", t));
        }
        // a few readings in full-width katakana (DBCS)
        String[] fullKana = {"ヤマダ　ハナコ", "サトウ　タロウ", "ワタナベ　ケンタ", "ヴァン　ヘルシング", "ヰヱ　ヲン"};
        for (int i = 0; i < fullKana.length; i++) items.add(new Item(String.format("fkana%02d", i), "dbcs", fullKana[i]));
        // addresses: mixed SBCS / DBCS
        n = 0;
        while (n < 100) {
            String city = CITIES[r.nextInt(CITIES.length)], town = TOWNS[r.nextInt(TOWNS.length)];
            int a = 1 + r.nextInt(9), b = 1 + r.nextInt(30), c = 1 + r.nextInt(40);
            String num = switch (r.nextInt(4)) {
                case 0 -> a + "-" + b + "-" + c;
                case 1 -> fullWidthDigits(a) + "丁目" + fullWidthDigits(b) + "番" + fullWidthDigits(c) + "号";
                case 2 -> kanjiNumber(a) + "丁目" + kanjiNumber(b) + "番" + kanjiNumber(c) + "号";
                default -> a + "丁目" + b + "番地" + c;
            };
            String t = city + town + num + BUILDINGS[r.nextInt(BUILDINGS.length)];
            if (seen.add(t)) items.add(new Item(String.format("addr%03d", n++), "mixed", t));
        }
        // Latin and digits only (SBCS)
        String[] latin = {"ABC-123", "Tanaka Taro", "tel 03-1234-5678", "No.12 (B)", "info@example.jp", "$100 + 5%"};
        for (int i = 0; i < latin.length; i++) items.add(new Item(String.format("latin%02d", i), "sbcs", latin[i]));
        // the wave-dash family
        for (int i = 0; i < DASHES.length; i++) {
            String d = DASHES[i];
            items.add(new Item(String.format("dash%02d", 2 * i), "mixed", "１" + d + "３丁目"));
            items.add(new Item(String.format("dash%02d", 2 * i + 1), "mixed", "ｶﾌﾞｼｷｶﾞｲｼｬ" + d + "本社 2F"));
        }
        for (int i = 0; i < ONE_WAY.length; i++) {
            items.add(new Item(String.format("oneway%02d", i), "mixed", "山田" + ONE_WAY[i] + "子 ﾔﾏﾀﾞ"));
        }
        for (int i = 0; i < UNENCODABLE.length; i++) {
            items.add(new Item(String.format("unenc%02d", i), "mixed", UNENCODABLE[i]));
        }
        return items;
    }

    // ---------------------------------------------------------------------------------- helpers

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02X", x & 0xff));
        return s.toString();
    }

    static String cps(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(cp -> b.append(b.length() > 0 ? " " : "").append(String.format("U+%04X", cp)));
        return b.toString();
    }

    static CharsetEncoder encoder(Charset c) {
        return c.newEncoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    }

    static CharsetDecoder decoder(Charset c) {
        return c.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    }

    static byte[] encode(CharsetEncoder e, String s) {
        try {
            ByteBuffer bb = e.reset().encode(CharBuffer.wrap(s));
            byte[] out = new byte[bb.remaining()];
            bb.get(out);
            return out;
        } catch (CharacterCodingException ex) {
            return null;
        }
    }

    static String decode(CharsetDecoder d, byte[] b) {
        try {
            return d.reset().decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException ex) {
            return null;
        }
    }

    static String header(String what) {
        return "# " + what + "\n# generated by scripts/oracle/JdkOracle.java with Java " + System.getProperty("java.version")
            + " (" + System.getProperty("java.vendor") + ", " + System.getProperty("java.vm.name") + ")\n";
    }

    // ---------------------------------------------------------------------------------- outputs

    static String corpusTsv() {
        StringBuilder out = new StringBuilder(header("JDK oracle corpus: synthetic names and addresses through the JDK's x-IBM930 / x-IBM939 / x-IBM300"));
        out.append("# columns: id, charset, kind (sbcs | dbcs | mixed), text, hex (JDK encoder; SO/SI included),\n");
        out.append("#          decoded (JDK decoder on hex), dbcs_hex (x-IBM300 encoder, kind dbcs only),\n");
        out.append("#          unencodable (first code point the JDK cannot encode: index:U+XXXX; hex and decoded then empty)\n");
        out.append("id\tcharset\tkind\ttext\thex\tdecoded\tdbcs_hex\tunencodable\n");
        CharsetEncoder dbcsEnc = encoder(Charset.forName("x-IBM300"));
        for (String cs : new String[] {"x-IBM930", "x-IBM939"}) {
            Charset c = Charset.forName(cs);
            CharsetEncoder e = encoder(c);
            CharsetDecoder d = decoder(c);
            for (Item it : corpus()) {
                byte[] b = encode(e, it.text());
                String decoded = b == null ? "" : decode(d, b);
                String dbcsHex = "";
                if (it.kind().equals("dbcs") && b != null) {
                    byte[] p = encode(dbcsEnc, it.text());
                    dbcsHex = p == null ? "" : hex(p);
                }
                String unenc = "";
                if (b == null) {
                    int[] cpArr = it.text().codePoints().toArray();
                    for (int i = 0; i < cpArr.length; i++) {
                        if (encode(e, new String(Character.toChars(cpArr[i]))) == null) {
                            unenc = i + ":" + String.format("U+%04X", cpArr[i]);
                            break;
                        }
                    }
                }
                out.append(String.join("\t", it.id(), cs.substring(2), it.kind(), it.text(),
                    b == null ? "" : hex(b), decoded, dbcsHex, unenc)).append('\n');
            }
        }
        return out.toString();
    }

    /** Decode map and canonical encode map of the committed iconv tables for one charset. */
    static void loadTable(Path file, String charset, Map<Integer, String> dec, Map<String, Integer> enc) throws IOException {
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] col = line.split("\t");
            String flag = col.length > 2 ? col[2] : "0";
            if (col.length > 3 && !List.of(col[3].split(",")).contains(charset)) continue;
            if (flag.equals("1")) continue;
            StringBuilder text = new StringBuilder();
            for (String u : col[1].split(" ")) text.appendCodePoint(Integer.parseInt(u.substring(2), 16));
            int code = Integer.parseInt(col[0], 16);
            dec.put(code, text.toString());
            if (flag.equals("0")) enc.putIfAbsent(text.toString(), code);
        }
    }

    static String diffTsv(Path tables) throws IOException {
        StringBuilder out = new StringBuilder(header("JDK x-IBM930 / x-IBM939 versus the iconv tables in include/ikou/moji/tables (variant jis)"));
        out.append("# decode rows: every SBCS byte and DBCS code 0x4040-0xFEFE (user-defined area 0x6941-0x7FFE skipped) where the decoders differ\n");
        out.append("# encode rows: every scalar value U+0000-U+3FFFF (PUA skipped) where the encoders differ; '-' = cannot encode / undefined\n");
        out.append("charset\tdirection\tcode_or_char\ticonv\tjdk\n");
        String[][] sets = {{"x-IBM930", "IBM930", "sbcs290.tsv", "dbcs300.tsv"}, {"x-IBM939", "IBM939", "sbcs1027.tsv", "dbcs300.tsv"}};
        for (String[] set : sets) {
            Charset c = Charset.forName(set[0]);
            CharsetDecoder d = decoder(c);
            CharsetEncoder e = encoder(c);
            Map<Integer, String> sdec = new HashMap<>(), ddec = new HashMap<>();
            Map<String, Integer> senc = new HashMap<>(), denc = new HashMap<>();
            loadTable(tables.resolve(set[2]), set[1], sdec, senc);
            loadTable(tables.resolve(set[3]), set[1], ddec, denc);
            String cs = set[1];
            for (int b = 0; b < 256; b++) {
                if (b == 0x0E || b == 0x0F) continue;
                String j = decode(d, new byte[] {(byte) b});
                String mine = sdec.get(b);
                if (j != null && j.isEmpty()) j = null;
                if (!java.util.Objects.equals(mine, j))
                    out.append(String.format("%s\tdecode\t%02X\t%s\t%s\n", cs, b, mine == null ? "-" : cps(mine), j == null ? "-" : cps(j)));
            }
            for (int code = 0x4040; code <= 0xFEFE; code++) {
                if ((code >> 8) >= 0x69 && (code >> 8) <= 0x7F) continue;
                String j = decode(d, new byte[] {0x0E, (byte) (code >> 8), (byte) code, 0x0F});
                if (j != null && j.isEmpty()) j = null;
                String mine = ddec.get(code);
                if (!java.util.Objects.equals(mine, j))
                    out.append(String.format("%s\tdecode\t%04X\t%s\t%s\n", cs, code, mine == null ? "-" : cps(mine), j == null ? "-" : cps(j)));
            }
            for (int cp = 0; cp < 0x40000; cp++) {
                if (cp >= 0xD800 && cp <= 0xDFFF) continue;
                if (cp >= 0xE000 && cp <= 0xF8FF) continue;  // PUA <-> user-defined area
                String s = new String(Character.toChars(cp));
                byte[] j = encode(e, s);
                String mine;
                if (senc.containsKey(s)) mine = String.format("%02X", senc.get(s));
                else if (denc.containsKey(s)) mine = String.format("0E%04X0F", denc.get(s));
                else mine = "-";
                String jh = j == null ? "-" : hex(j);
                if (!mine.equals(jh)) out.append(String.format("%s\tencode\tU+%04X\t%s\t%s\n", cs, cp, mine, jh));
            }
        }
        return out.toString();
    }

    static final String SEPARATOR = "#### jdk_vs_iconv.tsv\n";

    public static void main(String[] args) throws IOException {
        if (args.length > 0 && args[0].equals("--stdout")) {
            String both = corpusTsv() + SEPARATOR + diffTsv(Path.of("include/ikou/moji/tables"));
            System.out.write(both.getBytes(StandardCharsets.UTF_8));
            System.out.flush();
            return;
        }
        Path root = Path.of(args.length > 0 ? args[0] : ".");
        Path dir = root.resolve("tests/data/oracle");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("jdk_corpus.tsv"), corpusTsv(), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("jdk_vs_iconv.tsv"), diffTsv(root.resolve("include/ikou/moji/tables")), StandardCharsets.UTF_8);
        System.err.println("wrote " + dir.resolve("jdk_corpus.tsv") + " and " + dir.resolve("jdk_vs_iconv.tsv"));
    }
}
