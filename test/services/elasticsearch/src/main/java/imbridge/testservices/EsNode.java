/*
 * Test-support only: starts ONE real Elasticsearch 8.19 node (server core + transport-netty4 HTTP) in this JVM,
 * from Maven Central jars, for im-bridge's integration tests. Driven by test/services/elasticsearch.sh.
 *
 * usage: java -cp 'target/classes:target/lib/*' imbridge.testservices.EsNode <home-dir> [http-port] [transport-port]
 *
 * Settings: single-node discovery, loopback only, no disk watermarks, no security (x-pack is not loaded at all),
 * 0 replicas for new indices comes from an index template that test/services/elasticsearch.sh PUTs over HTTP
 * once the node is up (index-level defaults cannot be node settings).
 * Prints "ES_NODE_STARTED http=<addr>" once the node has started. SIGTERM closes the node cleanly.
 */
package imbridge.testservices;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.ClasspathNode;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

public final class EsNode {
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: EsNode <home-dir> [http-port] [transport-port]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        String httpPort = args.length > 1 ? args[1] : "9200";
        String transportPort = args.length > 2 ? args[2] : "9300";
        Files.createDirectories(home.resolve("config"));
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));

        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "im-bridge-test")
            .put("node.name", "im-bridge-test-0")
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            // small / nearly full disks would otherwise turn indices read-only (flood stage)
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            // tests delete with wildcards
            .put("action.destructive_requires_name", false)
            // small heap: the real-memory parent breaker trips too early
            .put("indices.breaker.total.use_real_memory", false)
            .put("node.processors", Math.min(2, Runtime.getRuntime().availableProcessors()))
            .put("logger.level", System.getProperty("es.logger.level", "INFO"))
            .build();

        LogConfigurator.registerErrorListener();
        LogConfigurator.configureWithoutConfig(settings);

        List<Class<? extends Plugin>> plugins = List.of(Netty4Plugin.class, RootEndpointPlugin.class);
        Node node = new ClasspathNode(new Environment(settings, home.resolve("config")), plugins);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "es-node-shutdown"));
        node.start();

        String http = node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress().toString();
        System.out.println("ES_NODE_STARTED http=" + http);
        System.out.flush();
        closed.await();
    }
}
