package io.nodemesh.image;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * The two recipes of the image say the same: image/Dockerfile (for Docker users) installs the packages of
 * build-base.sh, copies the staged tree that Jib's extraDirectories copy, and has Jib's entrypoint and PATH.
 */
final class ImageRecipeTest {

    private static final Path MODULE = Path.of("").toAbsolutePath();

    @Test
    void theDockerfileInstallsTheBasePackages() throws Exception {
        Matcher packages = Pattern.compile("(?m)^PACKAGES=\\(([^)]*)\\)").matcher(read("build-base.sh"));
        assertThat(packages.find()).as("PACKAGES=(...) in build-base.sh").isTrue();
        Matcher install = Pattern.compile("apt-get install -y --no-install-recommends ([^&\\\\\\n]+)")
                .matcher(read("Dockerfile"));
        assertThat(install.find()).as("apt-get install in the Dockerfile").isTrue();
        assertThat(words(install.group(1))).containsExactlyInAnyOrderElementsOf(words(packages.group(1)));
    }

    @Test
    void theDockerfileHasJibsEntrypointPathAndTree() throws Exception {
        Document pom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(MODULE.resolve("pom.xml").toFile());
        Element jib = (Element) pom.getElementsByTagName("container").item(0);
        String entrypoint = jib.getElementsByTagName("entrypoint").item(0).getTextContent().strip();
        String path = pom.getElementsByTagName("nodemesh.image.path").item(0).getTextContent().strip();
        assertThat(jib.getElementsByTagName("PATH").item(0).getTextContent()).isEqualTo("${nodemesh.image.path}");
        Element extra = (Element) pom.getElementsByTagName("extraDirectories").item(0);
        assertThat(extra.getElementsByTagName("from").item(0).getTextContent()).isEqualTo("${nodemesh.image.root}");
        assertThat(extra.getElementsByTagName("into").item(0).getTextContent()).isEqualTo("/");

        String dockerfile = read("Dockerfile");
        assertThat(dockerfile).containsPattern("(?m)^ENTRYPOINT \\[\"" + Pattern.quote(entrypoint) + "\"\\]$")
                .containsPattern("(?m)^ENV PATH=" + Pattern.quote(path) + "$")
                // the context is the staged root (target/root), whose opt/nodemesh Jib puts at /opt/nodemesh
                .containsPattern("(?m)^COPY opt/nodemesh /opt/nodemesh$");
    }

    private static String read(String file) throws Exception {
        return Files.readString(MODULE.resolve(file));
    }

    private static List<String> words(String text) {
        List<String> words = new ArrayList<>();
        for (String word : text.strip().split("\\s+")) {
            if (!word.isEmpty()) {
                words.add(word);
            }
        }
        return words;
    }
}
