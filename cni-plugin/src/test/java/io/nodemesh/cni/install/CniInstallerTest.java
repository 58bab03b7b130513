package io.nodemesh.cni.install;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.cni.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CniInstallerTest {

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"10-calico.conflist", "10-flannel.conflist", "05-cilium.conflist"})
    void insertsOurEntryLastLeavesTheRestAndUninstallsToTheOriginalBytes(String sample) throws Exception {
        FakeNode node = new FakeNode(tmp);
        Path file = node.config(sample);
        byte[] original = Files.readAllBytes(file);
        CniInstaller installer = node.installer();

        assertThat(installer.install()).anySatisfy(line -> assertThat(line).startsWith("inserted nodemesh (nodemesh-cni) last in " + file));
        assertOursLastAndTheRestAsIn(file, original);

        FileTime written = Files.getLastModifiedTime(file);
        byte[] writtenBytes = Files.readAllBytes(file);
        Thread.sleep(10);
        assertThat(node.installer().install()).isEmpty();
        assertThat(Files.readAllBytes(file)).isEqualTo(writtenBytes);
        assertThat(Files.getLastModifiedTime(file)).isEqualTo(written);

        FakeNode.rewriteAsPrimary(file, original); // the primary CNI writes its config again
        assertThat(installer.repair()).hasSize(1);
        assertOursLastAndTheRestAsIn(file, original);

        List<String> undone = installer.uninstall();
        assertThat(undone).contains("restored " + file + " byte for byte");
        assertThat(Files.readAllBytes(file)).isEqualTo(original);
        assertThat(node.conf).isDirectoryContaining(p -> true);
        try (var entries = Files.list(node.conf)) {
            assertThat(entries.map(p -> p.getFileName().toString())).containsExactly(sample);
        }
        assertThat(node.bin.resolve("nodemesh-cni")).doesNotExist();
        assertThat(node.bin.resolve("nodemesh-cni.d")).doesNotExist();
    }

    @Test
    void turnsALoneConfIntoAConflistAndBackByteForByte() throws Exception {
        FakeNode node = new FakeNode(tmp);
        Path conf = node.config("10-flannel.conf");
        byte[] original = Files.readAllBytes(conf);
        Files.setPosixFilePermissions(conf, PosixFilePermissions.fromString("rw-------"));
        Path conflist = node.conf.resolve("10-flannel.conflist");

        node.installer().install();

        assertThat(conf).doesNotExist();
        assertThat(ConfigFiles.chosen(node.conf)).contains(conflist);
        Map<String, Object> list = Json.parseObject(Files.readAllBytes(conflist));
        Map<String, Object> lone = Json.parseObject(original);
        assertThat(list.keySet()).containsExactly("cniVersion", "name", "plugins");
        assertThat(list.get("cniVersion")).isEqualTo("0.3.1");
        assertThat(list.get("name")).isEqualTo("cbr0");
        assertThat(list.get("plugins")).isEqualTo(List.of(lone, PluginEntry.defaults().toJson()));
        assertThat(new String(Files.readAllBytes(conflist), UTF_8)).contains("\"mtu\": 1450.0");
        assertThat(Files.getPosixFilePermissions(conflist)).isEqualTo(PosixFilePermissions.fromString("rw-------"));

        FileTime written = Files.getLastModifiedTime(conflist);
        assertThat(node.installer().install()).isEmpty();
        assertThat(Files.getLastModifiedTime(conflist)).isEqualTo(written);

        assertThat(node.installer().uninstall()).contains("restored " + conf, "removed " + conflist);
        assertThat(Files.readAllBytes(conf)).isEqualTo(original);
        assertThat(Files.getPosixFilePermissions(conf)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(conflist).doesNotExist();
        assertThat(node.conf.resolve(CniInstaller.STATE_DIR)).doesNotExist();
    }

    @Test
    void aConfWrittenAgainByItsCniIsConvertedAgainAndTheNewestIsWhatUninstallRestores() throws Exception {
        FakeNode node = new FakeNode(tmp);
        Path conf = node.config("10-flannel.conf");
        CniInstaller installer = node.installer();
        installer.install();
        byte[] newer = new String(FakeNode.sample("10-flannel.conf"), UTF_8).replace("1450.0", "1400").getBytes(UTF_8);
        FakeNode.rewriteAsPrimary(conf, newer); // flannel's DaemonSet restarts and writes its .conf again

        assertThat(installer.repair()).hasSize(1);
        assertThat(conf).doesNotExist();
        Map<String, Object> list = Json.parseObject(Files.readAllBytes(node.conf.resolve("10-flannel.conflist")));
        assertThat(((List<?>) list.get("plugins")).getFirst()).isEqualTo(Json.parseObject(newer));

        installer.uninstall();
        assertThat(Files.readAllBytes(conf)).isEqualTo(newer);
        assertThat(node.conf.resolve("10-flannel.conflist")).doesNotExist();
    }

    @Test
    void copiesThePluginWithItsJavaHomeOnceAndRepairsItWhenDeleted() throws Exception {
        FakeNode node = new FakeNode(tmp);
        node.config("10-calico.conflist");
        CniInstaller installer = node.installer();
        assertThat(installer.install()).first().asString().startsWith("installed the plugin: " + node.bin.resolve("nodemesh-cni"));

        Path launcher = node.bin.resolve("nodemesh-cni");
        assertThat(launcher).hasSameBinaryContentAs(node.source.resolve("nodemesh-cni")).isExecutable();
        assertThat(node.bin.resolve("nodemesh-cni.d/nodemesh-cni.jar")).hasSameBinaryContentAs(
                node.source.resolve("nodemesh-cni.d/nodemesh-cni.jar"));
        assertThat(node.bin.resolve("nodemesh-cni.d/lib/jackson-core.jar")).hasSize(4096);
        assertThat(node.bin.resolve("nodemesh-cni.d/java-home")).hasContent(FakeNode.JAVA_HOME.toString());
        try (var entries = Files.list(node.bin)) {
            assertThat(entries.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("nodemesh-cni", "nodemesh-cni.d");
        }

        Object dirKey = Files.readAttributes(node.bin.resolve("nodemesh-cni.d"), java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        assertThat(node.installer().install()).isEmpty(); // a DaemonSet restart: nothing copied
        assertThat(Files.readAttributes(node.bin.resolve("nodemesh-cni.d"), java.nio.file.attribute.BasicFileAttributes.class).fileKey())
                .isEqualTo(dirKey);

        Files.delete(launcher);
        assertThat(installer.repair()).containsExactly("repaired the plugin: " + launcher + " and " + node.bin.resolve("nodemesh-cni.d") + "/");
        assertThat(launcher).isExecutable();

        Files.write(node.source.resolve("nodemesh-cni.d/nodemesh-cni.jar"), "a new version".getBytes(UTF_8));
        assertThat(node.installer().install()).hasSize(1); // an upgrade: the directory swapped whole
        assertThat(node.bin.resolve("nodemesh-cni.d/nodemesh-cni.jar")).hasContent("a new version");
        try (var entries = Files.list(node.bin)) {
            assertThat(entries.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("nodemesh-cni", "nodemesh-cni.d");
        }

        // Upgrades while a runtime keeps starting the plugin: the directory is exchanged in one step, never missing.
        Path jar = node.bin.resolve("nodemesh-cni.d/nodemesh-cni.jar");
        java.util.concurrent.atomic.AtomicBoolean upgrading = new java.util.concurrent.atomic.AtomicBoolean(true);
        java.util.concurrent.atomic.AtomicLong looks = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicLong missing = new java.util.concurrent.atomic.AtomicLong();
        Thread runtime = Thread.ofPlatform().start(() -> {
            while (upgrading.get()) {
                looks.incrementAndGet();
                if (!Files.isRegularFile(jar)) {
                    missing.incrementAndGet();
                }
            }
        });
        try {
            for (int i = 0; i < 30; i++) {
                Files.write(node.source.resolve("nodemesh-cni.d/nodemesh-cni.jar"), ("version " + i).getBytes(UTF_8));
                assertThat(node.installer().install()).hasSize(1);
            }
        } finally {
            upgrading.set(false);
            runtime.join();
        }
        assertThat(missing.get()).as("of %d looks during 30 upgrades", looks.get()).isZero();
        assertThat(jar).hasContent("version 29");
        try (var entries = Files.list(node.bin)) {
            assertThat(entries.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("nodemesh-cni", "nodemesh-cni.d");
        }
    }

    @Test
    void aHigherPriorityFileTakesOurEntryAndTheOldFileGoesBackToItsOriginal() throws Exception {
        FakeNode node = new FakeNode(tmp);
        Path calico = node.config("10-calico.conflist");
        CniInstaller installer = node.installer();
        installer.install();
        Path cilium = node.config("05-cilium.conflist"); // a migration to Cilium: its config comes first

        assertThat(installer.repair()).containsExactly(
                "inserted nodemesh (nodemesh-cni) last in " + cilium + " (original kept in "
                        + node.conf.resolve(".nodemesh/05-cilium.conflist.orig") + ")",
                "restored " + calico + " byte for byte");
        assertOursLastAndTheRestAsIn(cilium, FakeNode.sample("05-cilium.conflist"));
        assertThat(calico).hasBinaryContent(FakeNode.sample("10-calico.conflist"));

        installer.uninstall();
        assertThat(cilium).hasBinaryContent(FakeNode.sample("05-cilium.conflist"));
        assertThat(calico).hasBinaryContent(FakeNode.sample("10-calico.conflist"));
    }

    @Test
    void newSettingsReplaceOurEntryAndUninstallStillRestoresTheOriginal() throws Exception {
        FakeNode node = new FakeNode(tmp);
        Path file = node.config("10-flannel.conflist");
        node.installer().install();
        PluginEntry other = new PluginEntry("nodemesh", Path.of("/run/nm/cni.sock"), Path.of("/run/nm/enrolment.json"),
                Path.of("/run/nm"), List.of("kube-system"), 10);

        assertThat(node.installer(other).install()).hasSize(1);
        List<?> plugins = (List<?>) Json.parseObject(Files.readAllBytes(file)).get("plugins");
        assertThat(plugins).hasSize(3).last().isEqualTo(other.toJson());

        node.installer(other).uninstall();
        assertThat(file).hasBinaryContent(FakeNode.sample("10-flannel.conflist"));
    }

    @Test
    void aConfigItsCniChangedSinceKeepsTheChangeAndLosesOnlyOurEntry() throws Exception {
        FakeNode node = new FakeNode(tmp);
        Path file = node.config("10-calico.conflist");
        CniInstaller installer = node.installer();
        installer.install();
        Map<String, Object> changed = Json.parseObject(Files.readAllBytes(file));
        changed.put("name", "k8s-pod-network-2"); // Calico wrote something new, and kept our entry
        FakeNode.rewriteAsPrimary(file, Json.writePretty(changed));

        assertThat(installer.uninstall()).anySatisfy(line -> assertThat(line).startsWith("took our entry out of " + file));
        Map<String, Object> expected = Json.parseObject(FakeNode.sample("10-calico.conflist"));
        expected.put("name", "k8s-pod-network-2");
        assertThat(Json.parseObject(Files.readAllBytes(file))).isEqualTo(expected);
    }

    @Test
    void noConfigYetIsItsOwnErrorAndThePluginIsInstalledAllTheSame() throws Exception {
        FakeNode node = new FakeNode(tmp);
        assertThatThrownBy(() -> node.installer().install()).isInstanceOf(InstallException.NoConfig.class)
                .hasMessage(node.conf + ": no CNI config (.conflist, .conf or .json) yet: the primary CNI has not written one");
        assertThat(node.bin.resolve("nodemesh-cni")).exists();
        Files.delete(node.conf);
        assertThatThrownBy(() -> node.installer().install()).isInstanceOf(InstallException.NoConfig.class)
                .hasMessageEndingWith("(the directory does not exist)");
    }

    @Test
    void badConfigsAreNamedAndLeftAlone() throws Exception {
        FakeNode node = new FakeNode(tmp);
        List<String[]> cases = List.of(
                new String[] {"10-broken.conflist", "{\"name\":\"k8s\",\"plugins\":[", "10-broken.conflist: not a valid CNI config ("},
                new String[] {"10-noplugins.conflist", "{\"name\":\"k8s\",\"cniVersion\":\"1.0.0\"}", "10-noplugins.conflist: no \"plugins\" list; nothing written"},
                new String[] {"10-empty.conflist", "{\"name\":\"k8s\",\"cniVersion\":\"1.0.0\",\"plugins\":[]}", "10-empty.conflist: \"plugins\" is empty"},
                new String[] {"10-old.conflist", "{\"name\":\"k8s\",\"cniVersion\":\"0.2.0\",\"plugins\":[{\"type\":\"bridge\"}]}", "10-old.conflist: cniVersion '0.2.0' is not one the nodemesh plugin speaks"},
                new String[] {"10-neither.conf", "{\"name\":\"k8s\",\"cniVersion\":\"1.0.0\"}", "10-neither.conf: no \"plugins\" list and no \"type\""},
                new String[] {"10-array.json", "[1]", "10-array.json: not a valid CNI config (expected a JSON object, got array)"});
        for (String[] c : cases) {
            Path dir = tmp.resolve("case-" + c[0]);
            FakeNode one = new FakeNode(dir);
            Path file = one.conf.resolve(c[0]);
            Files.writeString(file, c[1]);
            assertThatThrownBy(() -> one.installer().install()).as(c[0]).isInstanceOf(InstallException.class)
                    .hasMessageContaining(c[2]);
            assertThat(file).hasContent(c[1]);
            try (var entries = Files.list(one.conf)) {
                assertThat(entries.map(p -> p.getFileName().toString())).as(c[0])
                        .allMatch(n -> n.equals(c[0]) || n.equals(CniInstaller.STATE_DIR));
            }
            assertThat(one.conf.resolve(".nodemesh/install.json")).doesNotExist();
        }
    }

    @Test
    void aConfBesideAConflistWeDidNotWriteIsNotOverwritten() throws Exception {
        FakeNode node = new FakeNode(tmp);
        node.config("10-flannel.conf");
        Path conflist = node.conf.resolve("10-flannel.conflist");
        Files.writeString(conflist, "{\"someone\":\"else\"}");
        assertThatThrownBy(() -> node.installer().install()).hasMessageContaining(
                conflist + " exists beside " + node.conf.resolve("10-flannel.conf"));
        assertThat(conflist).hasContent("{\"someone\":\"else\"}");
        assertThat(node.conf.resolve("10-flannel.conf")).exists();
    }

    @Test
    void theSourceAndTheJavaHomeAreCheckedBeforeAnythingIsWritten() throws Exception {
        FakeNode node = new FakeNode(tmp);
        node.config("10-calico.conflist");
        CniInstaller noJava = new CniInstaller(new CniInstaller.Settings(node.bin, node.conf, node.source,
                tmp.resolve("no-jdk"), PluginEntry.defaults()), java.time.Clock.systemUTC());
        assertThatThrownBy(noJava::install).hasMessage("--java-home " + tmp.resolve("no-jdk") + ": no executable "
                + tmp.resolve("no-jdk/bin/java") + " (an absolute path to a JDK or JRE on the node)");
        CniInstaller noSource = new CniInstaller(new CniInstaller.Settings(node.bin, node.conf, tmp.resolve("nothing"),
                null, PluginEntry.defaults()), java.time.Clock.systemUTC());
        assertThatThrownBy(noSource::install).hasMessageStartingWith(tmp.resolve("nothing/nodemesh-cni") + ": no plugin launcher there");
        CniInstaller noJavaAtAll = new CniInstaller(new CniInstaller.Settings(node.bin, node.conf, node.source,
                null, PluginEntry.defaults()), java.time.Clock.systemUTC());
        assertThatThrownBy(noJavaAtAll::install).hasMessageContaining("neither a java-home file nor a jre/");
        assertThat(node.bin).doesNotExist();
        assertThat(node.conf.resolve("10-calico.conflist")).hasBinaryContent(FakeNode.sample("10-calico.conflist"));
    }

    /** The file parses, our entry is last, and without it the file means what {@code original} meant. */
    static void assertOursLastAndTheRestAsIn(Path file, byte[] original) throws Exception {
        Map<String, Object> now = Json.parseObject(Files.readAllBytes(file));
        List<?> plugins = (List<?>) now.get("plugins");
        assertThat(plugins.getLast()).isEqualTo(PluginEntry.defaults().toJson());
        Map<String, Object> expected = Json.parseObject(original);
        List<Object> withOurs = new ArrayList<>((List<?>) expected.get("plugins"));
        withOurs.add(PluginEntry.defaults().toJson());
        expected.put("plugins", withOurs);
        assertThat(now).isEqualTo(expected);
        assertThat(List.copyOf(now.keySet())).isEqualTo(List.copyOf(Json.parseObject(original).keySet()));
    }
}
