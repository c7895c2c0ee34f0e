package dev.shuffle.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shuffle.jobs.Evictor;
import dev.shuffle.jobs.JobListener;
import dev.shuffle.jobs.MainJob;
import dev.shuffle.jobs.Phase;
import dev.shuffle.jobs.Report;
import dev.shuffle.spark.NodeShuffleConf;
import dev.shuffle.spark.NodeShuffleDataIO;
import dev.shuffle.spark.NodeShuffleManager;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Real Spark on the Kubernetes test environment: Spark's own Kubernetes scheduler backend
 * (client mode, in this JVM) drives the real kube-apiserver with a service account bound to
 * deploy/spark's spark-driver role, and creates its executor pods itself from deploy/spark's
 * executor pod template; the node agent runs them on three fake nodes as a kubelet runs Spark's
 * image, each finding its node's shuffle-server (the DaemonSet of deploy/base) through the
 * template's hostPath socket. The project's main job (dev.shuffle.jobs.MainJob) runs on it, with
 * executor pods evicted through the Eviction API (policy/v1beta1, the only version v1.20 has).
 * docs/spark-kubernetes.md.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SparkOnKubernetesTest {
  static final String NS = "spark-jobs";
  static final MainJob.Options JOB =
      MainJob.Options.defaults().withSize(48L << 20).withMaps(12).withPartitions(6)
          .withProgress(false);
  static final int EXECUTORS = 3;

  private static volatile boolean failed;

  @RegisterExtension
  static final TestWatcher WATCHER =
      new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
          failed = true;
        }
      };

  private Path work;
  private ControlPlane plane;
  private FakeNodes nodes;
  private String driverToken;
  private Path operatorSecret;
  private SparkSession spark;
  private String sparkSettings;
  private final Map<Phase, Report> withPlugin = new java.util.EnumMap<>(Phase.class);
  private int plannedMaps; // the job's map tasks with the plugin and no eviction (test 1)

  @BeforeAll
  void start() throws Exception {
    work = Files.createTempDirectory("k8s-tests");
    try {
      plane = ControlPlane.start(work.resolve("kube"));
      nodes = FakeNodes.start(plane, work);
      driverToken = driverServiceAccount();
      operatorSecret = work.resolve("operator-secret");
      Files.writeString(operatorSecret, nodes.operatorSecret());
    } catch (Exception | Error e) {
      failed = true; // JUnit runs @AfterAll even so: it stops what started
      throw e;
    }
  }

  /**
   * The job namespace, its service account "spark" bound to deploy/spark's spark-driver
   * ClusterRole, and a token for it from the TokenRequest API (what a driver pod would have
   * mounted).
   */
  private String driverServiceAccount() {
    var admin = plane.admin();
    admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NS)
        .endMetadata().build()).create();
    admin.serviceAccounts().inNamespace(NS).resource(new ServiceAccountBuilder()
        .withNewMetadata().withName("spark").endMetadata().build()).create();
    admin.rbac().roleBindings().inNamespace(NS).resource(new RoleBindingBuilder()
        .withNewMetadata().withName("spark-driver").endMetadata()
        .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole")
        .withName("spark-driver").endRoleRef()
        .addNewSubject().withKind("ServiceAccount").withName("spark").withNamespace(NS)
        .endSubject().build()).create();
    TokenRequest issued =
        admin.serviceAccounts().inNamespace(NS).withName("spark").tokenRequest(
            new TokenRequestBuilder().withNewSpec()
                .withAudiences("https://kubernetes.default.svc").withExpirationSeconds(3600L)
                .endSpec().build());
    return issued.getStatus().getToken();
  }

  @AfterAll
  void stop() throws Exception {
    try {
      stopSpark();
    } catch (Exception | Error e) {
      failed = true;
      throw e;
    } finally {
      if (nodes != null) {
        nodes.close();
        nodes = null;
      }
      if (plane != null) {
        plane.close();
        plane = null;
      }
      if (failed) {
        System.err.println("k8s-tests: the control plane's and nodes' logs are kept under "
            + work);
      } else if (work != null) {
        dev.shuffle.testkit.ShuffleServer.deleteTree(work);
      }
    }
  }

  /** Stops the application, if any, and waits (bounded) for Spark to delete its pods. */
  private void stopSpark() throws InterruptedException {
    if (spark != null) {
      spark.stop();
      spark = null;
      sparkSettings = null;
      FakeNodes.await(120, "the executor pods of the stopped application gone", () ->
          plane.admin().pods().inNamespace(NS).withLabel("spark-role", "executor").list()
              .getItems().isEmpty());
    }
  }

  /**
   * The running application when it was started with these settings (tests in a row share it:
   * starting one costs half a minute on two cores), else a new one.
   */
  private SparkSession spark(boolean plugin, Map<String, String> extra)
      throws InterruptedException {
    String settings = plugin + " " + new java.util.TreeMap<>(extra);
    if (spark != null && settings.equals(sparkSettings)) {
      return spark;
    }
    stopSpark();
    startSpark(plugin, extra);
    sparkSettings = settings;
    return spark;
  }

  /** A Spark application in client mode on the test environment, with its executors up. */
  private SparkSession startSpark(boolean plugin, Map<String, String> extra)
      throws InterruptedException {
    Path template =
        ControlPlane.sourceDir().resolve("deploy/spark/executor-pod-template.yaml");
    SparkConf conf =
        new SparkConf()
            .setMaster("k8s://" + plane.server())
            .setAppName("k8s-tests")
            .set("spark.submit.deployMode", "client")
            .set("spark.kubernetes.namespace", NS)
            .set("spark.kubernetes.authenticate.caCertFile", plane.caFile().toString())
            .set("spark.kubernetes.authenticate.oauthToken", driverToken)
            .set("spark.kubernetes.container.image", FakeNodes.SPARK_IMAGE)
            .set("spark.kubernetes.executor.podTemplateFile", template.toString())
            .set("spark.kubernetes.executor.podTemplateContainerName", "spark-executor")
            .set("spark.driver.host", "127.0.0.1")
            .set("spark.driver.bindAddress", "127.0.0.1")
            .set("spark.executor.instances", Integer.toString(EXECUTORS))
            // 2 cores of a node's 4 (its server asks for 0.5): one executor per node.
            .set("spark.executor.cores", "2")
            .set("spark.executor.memory", "640m")
            .set("spark.ui.enabled", "false")
            .set("spark.sql.warehouse.dir", work.resolve("warehouse").toString());
    boolean dynamic = extra.containsKey("spark.dynamicAllocation.enabled");
    if (!dynamic) {
      // The first job starts with every executor (SparkContext waits for them). Not with dynamic
      // allocation: idle executors go before the last registers, and it would wait in vain.
      conf.set("spark.scheduler.minRegisteredResourcesRatio", "1.0")
          .set("spark.scheduler.maxRegisteredResourcesWaitingTime", "180s");
    }
    if (plugin) {
      conf.set("spark.shuffle.manager", NodeShuffleManager.class.getName())
          .set("spark.shuffle.sort.io.plugin.class", NodeShuffleDataIO.class.getName())
          .set(NodeShuffleConf.SERVERS,
              String.join(",", FakeNodes.controlAddress(0), FakeNodes.controlAddress(1),
                  FakeNodes.controlAddress(2)))
          .set(NodeShuffleConf.IDENTITY_TOKEN_FILE, operatorSecret.toString())
          // The plugin's classes as spark.executor.extraClassPath (Spark's SPARK_CLASSPATH in
          // the pod), where a real image has the plugin's jar in /opt/spark/jars.
          .set("spark.executor.extraClassPath", pluginClasses());
    }
    extra.forEach(conf::set);
    spark = SparkSession.builder().config(conf).getOrCreate();
    if (!dynamic) {
      awaitExecutors(EXECUTORS);
    }
    return spark;
  }

  static String pluginClasses() {
    return Path.of(NodeShuffleManager.class.getProtectionDomain().getCodeSource().getLocation()
        .getPath()).toString();
  }

  private void awaitExecutors(int n) throws InterruptedException {
    FakeNodes.await(240, () -> n + " executors registered (registered: "
        + CollectionConverters.asJava(spark.sparkContext().getExecutorIds()) + "; pods: "
        + podsDescribed() + "; executor pods' logs under " + nodes.root().resolve("nodes") + ")",
        () -> spark.sparkContext().getExecutorIds().size() >= n);
  }

  /** Every pod of the job namespace: name, node, phase, and why it is not running. */
  private String podsDescribed() {
    StringBuilder b = new StringBuilder();
    for (Pod p : plane.admin().pods().inNamespace(NS).list().getItems()) {
      b.append(p.getMetadata().getName()).append(" node=").append(p.getSpec().getNodeName())
          .append(" phase=").append(p.getStatus().getPhase());
      if (p.getStatus().getReason() != null || p.getStatus().getMessage() != null) {
        b.append(" ").append(p.getStatus().getReason()).append(": ")
            .append(p.getStatus().getMessage());
      }
      p.getStatus().getConditions().forEach(c -> {
        if (!"True".equals(c.getStatus())) {
          b.append(" ").append(c.getType()).append("=").append(c.getStatus()).append(" (")
              .append(c.getReason()).append(": ").append(c.getMessage()).append(")");
        }
      });
      p.getStatus().getContainerStatuses().forEach(c -> {
        if (c.getState() != null && c.getState().getWaiting() != null) {
          b.append(" waiting ").append(c.getState().getWaiting().getReason()).append(": ")
              .append(c.getState().getWaiting().getMessage());
        }
      });
      b.append("; ");
    }
    return b.toString();
  }

  /** The application's executor pods, by Spark's executor id. */
  private Map<String, Pod> executorPods() {
    return plane.admin().pods().inNamespace(NS).withLabel("spark-role", "executor")
        .withLabel("spark-app-selector", spark.sparkContext().applicationId()).list().getItems()
        .stream().filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .collect(Collectors.toMap(p -> p.getMetadata().getLabels().get("spark-exec-id"),
            p -> p));
  }

  /**
   * Evicts the executor's pod through the Eviction API: fabric8's PodResource.evict() posts a
   * policy/v1beta1 Eviction, the only version v1.20 serves. The API server deletes the pod
   * gracefully; the node agent SIGTERMs the executor and confirms the deletion once it exited.
   */
  private Evictor evictionApi() {
    return (appId, executorId) -> {
      Pod pod = executorPods().get(executorId);
      if (pod == null) {
        throw new IllegalStateException("no pod for executor " + executorId);
      }
      String name = pod.getMetadata().getName();
      if (!plane.admin().pods().inNamespace(NS).withName(name).evict()) {
        throw new IllegalStateException("the API server refused to evict pod " + name);
      }
      return "pod " + name + " on node " + pod.getSpec().getNodeName()
          + " evicted through the Eviction API (policy/v1beta1)";
    };
  }

  private Report runJob(Phase phase) throws InterruptedException {
    awaitExecutors(EXECUTORS); // an evicted executor's replacement pod, too
    Report r = MainJob.run(spark, JOB.withEviction(phase), evictionApi(), System.out, false);
    System.out.print(r.text());
    return r;
  }

  private void assertNoRerun(Report r) {
    assertTrue(r.validated(), r.text());
    if (plannedMaps > 0) { // no stage planned again either (adaptive execution's way to re-run)
      assertEquals(plannedMaps, r.mapPartitions(), r.text());
    }
    assertTrue(r.evicted(), r.text());
    assertEquals(0, r.stageReruns(), r.text());
    assertEquals(r.mapPartitions() + r.mapTasksLostWithExecutors(), r.mapTaskAttempts(),
        r.text());
    assertEquals(1, r.executorsRemoved().size(), r.text());
  }

  /**
   * Spark's backend creates the executor pods from the template; the scheduler spreads them over
   * the nodes; each runs with an address of its own, which is where Spark reaches it; the job
   * validates with the plugin (its executors found their node's server through the socket).
   */
  @Test
  @Order(1)
  void sparkCreatesExecutorPodsThatRunOnTheFakeNodes() throws Exception {
    spark(true, Map.of());
    Map<String, Pod> pods = executorPods();
    assertEquals(EXECUTORS, pods.size(), pods.keySet().toString());
    Set<String> podIps = new HashSet<>();
    Set<String> nodesUsed = new HashSet<>();
    for (Pod p : pods.values()) {
      assertEquals("Running", p.getStatus().getPhase(), p.getMetadata().getName());
      assertTrue(p.getStatus().getPodIP().startsWith("127.1.3"), p.getStatus().getPodIP());
      assertTrue(p.getStatus().getHostIP().startsWith("127.0.0.3"), p.getStatus().getHostIP());
      podIps.add(p.getStatus().getPodIP());
      nodesUsed.add(p.getSpec().getNodeName());
      // The template's socket volume and environment made it into Spark's pod.
      assertTrue(p.getSpec().getVolumes().stream().anyMatch(v -> v.getHostPath() != null
          && "/run/shuffle".equals(v.getHostPath().getPath())), p.getMetadata().getName());
    }
    assertEquals(EXECUTORS, podIps.size(), podIps.toString());
    assertEquals(Set.copyOf(FakeNodes.NODES), nodesUsed);
    // Spark knows each executor by its pod's IP (the entrypoint's --hostname).
    List<String> hosts = new ArrayList<>();
    for (var info : spark.sparkContext().statusTracker().getExecutorInfos()) {
      hosts.add(info.host());
    }
    assertTrue(hosts.containsAll(podIps), "executors' hosts " + hosts + " vs pods' " + podIps);
    Report r = runJob(Phase.NONE);
    assertTrue(r.validated(), r.text());
    assertEquals(0, r.stageReruns(), r.text());
    assertEquals(r.mapPartitions(), r.mapTaskAttempts(), r.text());
    plannedMaps = r.mapPartitions();
    assertTrue(r.shuffle().contains("NodeShuffleManager"), r.text());
    assertTrue(CollectionConverters.asJava(spark.sparkContext().getExecutorIds()).size()
        >= EXECUTORS);
  }

  /**
   * An executor pod evicted through the Eviction API when half of the map stage is done: its
   * finished maps stay on its node's server, so only the maps it was running run again, and no
   * stage runs twice.
   */
  @Test
  @Order(2)
  void anExecutorPodEvictedDuringTheMapStageCostsOnlyItsRunningMaps() throws Exception {
    spark(true, Map.of());
    Report r = runJob(Phase.MAP);
    assertNoRerun(r);
    withPlugin.put(Phase.MAP, r);
  }

  /**
   * The same during the reduce stage (of the orders' shuffle, itself the map stage of the
   * aggregation's): no finished map runs again.
   */
  @Test
  @Order(3)
  void anExecutorPodEvictedDuringTheReduceStageCostsNoFinishedMap() throws Exception {
    spark(true, Map.of());
    Report r = runJob(Phase.REDUCE);
    assertNoRerun(r);
    withPlugin.put(Phase.REDUCE, r);
  }

  /**
   * The contrast: Spark's built-in shuffle, same job, same evictions. The evicted executor's
   * finished map output goes with its pod, so Spark runs those maps again (more map tasks than
   * partitions plus the running ones lost, or stage attempts beyond the first). Both runs'
   * figures are printed side by side (docs/spark-kubernetes.md records them).
   */
  @Test
  @Order(4)
  void withSparksBuiltInShuffleTheSameEvictionsRunMapsAgain() throws Exception {
    spark(false, Map.of());
    // The job's map tasks when nothing goes wrong. (With adaptive execution a shuffle whose
    // output was lost after its stage ended is recomputed by a new stage, not a new attempt of
    // the old one: it shows as more map partitions, so the baseline is what runs compare to.)
    Report baseline = runJob(Phase.NONE);
    assertTrue(baseline.validated(), baseline.text());
    int planned = baseline.mapPartitions();
    StringBuilder contrast = new StringBuilder(
        "contrast (same job, same evictions; " + planned + " map tasks without one):\n");
    boolean rerunSomewhere = false;
    for (Phase phase : List.of(Phase.MAP, Phase.REDUCE)) {
      Report r = runJob(phase);
      assertTrue(r.validated(), r.text());
      assertTrue(r.evicted(), r.text());
      boolean rerun = r.mapTaskAttempts() > planned + r.mapTasksLostWithExecutors()
          || r.stageReruns() > 0;
      rerunSomewhere |= rerun;
      if (phase == Phase.MAP) {
        assertTrue(rerun, "the evicted executor's finished maps ran again: " + r.text());
      }
      Report p = withPlugin.get(phase);
      contrast.append(String.format(java.util.Locale.ROOT,
          "  eviction during the %s stage: built-in shuffle %d map tasks (%d running on the"
              + " evicted executor), %d stage attempts (%d re-runs); plugin %s%n", phase.label(),
          r.mapTaskAttempts(), r.mapTasksLostWithExecutors(), r.stageAttempts(), r.stageReruns(),
          p == null ? "not run"
              : String.format(java.util.Locale.ROOT,
                  "%d map tasks (%d running on the evicted executor), %d stage attempts (%d"
                      + " re-runs)", p.mapTaskAttempts(), p.mapTasksLostWithExecutors(),
                  p.stageAttempts(), p.stageReruns())));
    }
    System.out.print(contrast);
    assertTrue(rerunSomewhere, contrast.toString());
  }

  /**
   * A node's shuffle-server pod deleted (graceful, as a rolling update or a drain does) when half
   * of the map stage is done: the DaemonSet controller puts a new one on the node, which the
   * node agent starts on the same hostPath data; the executors there retry, and the job
   * completes and validates.
   */
  @Test
  @Order(5)
  void aServerPodDeletedMidJobIsRecreatedByTheDaemonSetAndTheJobCompletes() throws Exception {
    spark(true, Map.of());
    awaitExecutors(EXECUTORS);
    Map<String, String> before = new java.util.HashMap<>();
    nodes.serverPods().forEach((node, pod) -> before.put(node, pod.getMetadata().getUid()));
    String[] deletedOn = new String[1];
    long[] at = new long[3]; // deletion asked, old server gone, replacement serving (nanoTime)
    Evictor deleteServer = (appId, executorId) -> {
      Pod executor = executorPods().get(executorId);
      if (executor == null) {
        throw new IllegalStateException("no pod for executor " + executorId);
      }
      String node = executor.getSpec().getNodeName();
      Pod server = nodes.serverPods().get(node);
      String name = server.getMetadata().getName();
      at[0] = System.nanoTime();
      plane.admin().pods().inNamespace(FakeNodes.SYSTEM_NAMESPACE).withName(name).delete();
      deletedOn[0] = node;
      // The node agent SIGTERMs the server (it drains) and confirms the deletion once it exited.
      FakeNodes.await(120, "server pod " + name + " gone", () ->
          plane.admin().pods().inNamespace(FakeNodes.SYSTEM_NAMESPACE).withName(name).get()
              == null);
      at[1] = System.nanoTime();
      nodes.awaitServers();
      at[2] = System.nanoTime();
      return "deleted the shuffle-server pod " + name + " of node " + node + " (where executor "
          + executorId + " runs)";
    };
    java.util.concurrent.atomic.AtomicLong lastTaskEnd = new java.util.concurrent.atomic.AtomicLong();
    SparkListener lastTask = new SparkListener() {
      @Override
      public void onTaskEnd(SparkListenerTaskEnd event) {
        lastTaskEnd.set(System.nanoTime());
      }
    };
    spark.sparkContext().addSparkListener(lastTask);
    Report r;
    try {
      r = MainJob.run(spark, JOB.withEviction(Phase.MAP), deleteServer, System.out, false);
    } finally {
      spark.sparkContext().removeSparkListener(lastTask);
    }
    System.out.print(r.text());
    System.out.printf(java.util.Locale.ROOT, "server pod deleted: gone after %.1f s, the"
        + " DaemonSet's replacement serving after %.1f s, the job's last task ended after %.1f s%n",
        (at[1] - at[0]) / 1e9, (at[2] - at[0]) / 1e9, (lastTaskEnd.get() - at[0]) / 1e9);
    assertTrue(r.validated(), r.text());
    assertTrue(r.evicted(), r.text());
    // The server was gone while the job still ran (so the job did live through it).
    assertTrue(at[1] < lastTaskEnd.get(), "the server pod went only after the job's last task");
    String after = nodes.serverPods().get(deletedOn[0]).getMetadata().getUid();
    assertTrue(!after.equals(before.get(deletedOn[0])),
        "the server pod on " + deletedOn[0] + " was not replaced");
  }

  /**
   * Dynamic allocation with the plugin and neither an external shuffle service nor shuffle
   * tracking: while the job's one reduce task waits, the executors that ran its maps go idle and
   * Spark releases them, deleting their pods; the reduce then reads their map output from their
   * nodes' servers. The result is exact and no map or stage ran again.
   */
  @Test
  @Order(6)
  void dynamicAllocationReleasesExecutorPodsMidJobAndTheirMapOutputIsStillRead()
      throws Exception {
    long t0 = System.nanoTime();
    String testClasses = Path.of(GatedJob.class.getProtectionDomain().getCodeSource()
        .getLocation().toURI()).toString();
    spark(true, Map.of(
        "spark.dynamicAllocation.enabled", "true",
        "spark.dynamicAllocation.shuffleTracking.enabled", "false",
        "spark.dynamicAllocation.initialExecutors", "3",
        "spark.dynamicAllocation.minExecutors", "0",
        "spark.dynamicAllocation.maxExecutors", "3",
        "spark.dynamicAllocation.executorIdleTimeout", "3s",
        "spark.executor.extraClassPath", pluginClasses() + ":" + testClasses));
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    long up = System.nanoTime();
    JobListener listener = new JobListener();
    listener.addExecutors(CollectionConverters.asJava(sc.sc().getExecutorIds()));
    sc.sc().addSparkListener(listener);
    String gate = work.resolve("gate").toString();
    CompletableFuture<long[]> result = CompletableFuture.supplyAsync(() -> GatedJob.run(sc, gate));
    List<String> released = new ArrayList<>();
    long releasedAt;
    long podsGoneAt;
    try {
      // Executors released before the job started do not count: only those that ran maps.
      // Every executor that ran maps but one (the one running the reduce, unless another took
      // it) is released; at least one. (An executor whose pod started late may have run none.)
      FakeNodes.await(240, () -> "the executors that ran maps released but one (removed: "
          + listener.removedExecutors() + ", maps by executor " + listener.mapsDoneByExecutor()
          + ")", () -> {
            released.clear();
            released.addAll(releasedMappers(listener));
            Map<String, Integer> maps = listener.mapsDoneByExecutor();
            boolean mapsDone =
                maps.values().stream().mapToInt(Integer::intValue).sum() >= GatedJob.MAPS;
            return (mapsDone && released.size() >= Math.max(1, maps.size() - 1))
                || result.isDone();
          });
      releasedAt = System.nanoTime();
      assertTrue(!result.isDone(), "the job ended before executors were released");
      // Spark deleted the released executors' pods.
      Set<String> ids = released.stream().map(r -> r.substring(0, r.indexOf(' ')))
          .collect(Collectors.toSet());
      FakeNodes.await(120, "the pods of released executors " + ids + " deleted", () ->
          executorPods().keySet().stream().noneMatch(ids::contains));
      podsGoneAt = System.nanoTime();
    } finally {
      Files.createFile(Path.of(gate));
    }
    long[] got = result.get(240, TimeUnit.SECONDS);
    System.out.printf(java.util.Locale.ROOT, "dynamic allocation: application up after %.1f s,"
        + " executors that ran maps released after %.1f s, their pods gone after %.1f s, result"
        + " after %.1f s%n", (up - t0) / 1e9, (releasedAt - t0) / 1e9,
        (podsGoneAt - t0) / 1e9, (System.nanoTime() - t0) / 1e9);
    sc.sc().listenerBus().waitUntilEmpty();
    sc.sc().removeSparkListener(listener);
    String what = "released after running maps: " + released + "; map attempts "
        + listener.mapTaskAttempts() + " for " + listener.mapPartitions()
        + " partitions; stage re-runs " + listener.stageReruns();
    System.out.println("dynamic allocation: " + what);
    org.junit.jupiter.api.Assertions.assertArrayEquals(GatedJob.expected(), got, what);
    assertEquals(0, listener.stageReruns(), what);
    assertEquals(listener.mapPartitions(), listener.mapTaskAttempts(), what);
    assertEquals(0, listener.failedTasks(), what);
  }

  /** The removed executors that had run map tasks ("id (reason)"). */
  static List<String> releasedMappers(JobListener listener) {
    Map<String, Integer> maps = listener.mapsDoneByExecutor();
    return listener.removedExecutors().stream()
        .filter(r -> maps.getOrDefault(r.substring(0, r.indexOf(' ')), 0) > 0)
        .toList();
  }
}
