// Starts an embedded Neo4j 5.26 Community database with the Bolt connector on a loopback port.
// Usage: java -cp 'classes:lib/*' Neo4jLauncher <data-dir> <host> <bolt-port>
// Auth is disabled (embedded default): the server only listens on 127.0.0.1.
import java.nio.file.Path;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

public final class Neo4jLauncher {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    String host = args[1];
    int port = Integer.parseInt(args[2]);
    DatabaseManagementService service = new DatabaseManagementServiceBuilder(dir)
        .setConfig(BoltConnector.enabled, true)
        .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
        .setConfig(HttpConnector.enabled, false)
        .setConfig(GraphDatabaseSettings.pagecache_memory, 128L * 1024 * 1024)
        .build();
    service.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
    Runtime.getRuntime().addShutdownHook(new Thread(service::shutdown));
    System.out.println("neo4j ready on bolt://" + host + ":" + port);
    Thread.currentThread().join();
  }
}
