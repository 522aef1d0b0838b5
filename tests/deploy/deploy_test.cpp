// Offline checks of the deployment files: deploy/kubernetes (kustomize, CNPG,
// the Deployment, PodMonitor, NetworkPolicy), docker/ (Dockerfile, compose,
// Prometheus) and deploy/systemd. Every YAML document must parse, every kind
// must carry the fields it needs, and the files must agree with each other
// and with the daemon: the configs they ship load with the daemon's own
// config loader, and the probes, ports and paths name what that config says.
// No cluster, no Docker engine, no database: kubeconform and hadolint are not
// packaged by Debian 12, so these checks are ours.
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pgstream/daemon/config.hpp"

namespace fs = std::filesystem;
using pgstream::daemon::Config;
using pgstream::daemon::parse_config;

namespace {

fs::path source_dir() {
  const char* dir = std::getenv("PGSTREAM_SOURCE_DIR");
  REQUIRE(dir != nullptr);
  return dir;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  INFO("reading " << path);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string str(const YAML::Node& node) { return node && node.IsScalar() ? node.as<std::string>() : ""; }

// Every `key: value` of `subset` is in `labels`.
bool labels_match(const YAML::Node& subset, const YAML::Node& labels) {
  if (!subset || !subset.IsMap() || subset.size() == 0) return false;
  for (const auto& entry : subset) {
    if (!labels || !labels[entry.first.as<std::string>()] ||
        str(labels[entry.first.as<std::string>()]) != entry.second.as<std::string>()) {
      return false;
    }
  }
  return true;
}

// The output and exit status of a shell command.
struct CommandResult {
  int status = -1;
  std::string output;
};

CommandResult run_shell(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// --- Kubernetes -------------------------------------------------------------

struct Manifests {
  YAML::Node kustomization;
  std::map<std::string, std::vector<YAML::Node>> by_kind;  // from the resources
  std::string config_map_name;                             // of the configMapGenerator
  std::string config_file_key;                             // its one file
  std::string config_text;

  const YAML::Node& one(const std::string& kind) const {
    const auto found = by_kind.find(kind);
    INFO("kind " << kind);
    REQUIRE(found != by_kind.end());
    REQUIRE(found->second.size() == 1);
    return found->second.front();
  }
};

Manifests load_manifests() {
  const fs::path dir = source_dir() / "deploy/kubernetes";
  Manifests m;
  m.kustomization = YAML::LoadFile((dir / "kustomization.yaml").string());
  REQUIRE(str(m.kustomization["kind"]) == "Kustomization");
  REQUIRE(m.kustomization["resources"].IsSequence());
  std::set<std::string> listed;
  for (const auto& resource : m.kustomization["resources"]) {
    const std::string file = resource.as<std::string>();
    INFO("kustomization resource " << file);
    REQUIRE(fs::is_regular_file(dir / file));
    listed.insert(file);
    for (const YAML::Node& doc : YAML::LoadAll(read_file(dir / file))) {
      if (!doc || doc.IsNull()) continue;
      INFO("a document of " << file);
      REQUIRE(doc.IsMap());
      CHECK_FALSE(str(doc["apiVersion"]).empty());
      REQUIRE_FALSE(str(doc["kind"]).empty());
      CHECK_FALSE(str(doc["metadata"]["name"]).empty());
      m.by_kind[str(doc["kind"])].push_back(doc);
    }
  }
  const YAML::Node generators = m.kustomization["configMapGenerator"];
  REQUIRE(generators.IsSequence());
  REQUIRE(generators.size() == 1);
  m.config_map_name = str(generators[0]["name"]);
  REQUIRE(generators[0]["files"].size() == 1);
  m.config_file_key = generators[0]["files"][0].as<std::string>();
  REQUIRE(fs::is_regular_file(dir / m.config_file_key));
  m.config_text = read_file(dir / m.config_file_key);
  listed.insert(m.config_file_key);
  // No manifest left out of the kustomization by mistake.
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".yaml" && name != "kustomization.yaml") {
      INFO(name << " is in deploy/kubernetes but not in kustomization.yaml");
      CHECK(listed.count(name) == 1);
    }
  }
  return m;
}

// The entry of a list of maps whose `name` is `name` (containers, ports, env, volumes).
YAML::Node named(const YAML::Node& list, const std::string& name) {
  INFO("an entry named '" << name << "'");
  REQUIRE(list.IsSequence());
  for (const auto& item : list) {
    if (str(item["name"]) == name) return item;
  }
  FAIL("not found");
  return {};
}

// The Dockerfile with continuation lines joined and comments dropped.
std::vector<std::string> dockerfile_lines() {
  std::istringstream in(read_file(source_dir() / "docker/Dockerfile"));
  std::vector<std::string> lines;
  std::string line;
  std::string joined;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (joined.empty() && (first == std::string::npos || line[first] == '#')) continue;
    if (!line.empty() && line.back() == '\\') {
      joined += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    lines.push_back(joined + line);
    joined.clear();
  }
  return lines;
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

}  // namespace

TEST_CASE("every YAML document under deploy/ and docker/ parses", "[deploy]") {
  int files = 0;
  for (const char* dir : {"deploy", "docker"}) {
    for (const auto& entry : fs::recursive_directory_iterator(source_dir() / dir)) {
      const auto extension = entry.path().extension();
      if (extension != ".yaml" && extension != ".yml") continue;
      INFO(entry.path());
      CHECK_NOTHROW(YAML::LoadAll(read_file(entry.path())));
      ++files;
    }
  }
  CHECK(files >= 10);
}

TEST_CASE("the Kubernetes manifests: kinds and API versions", "[deploy][kubernetes]") {
  const Manifests m = load_manifests();
  const std::map<std::string, std::string> api_versions = {
      {"Namespace", "v1"},
      {"Secret", "v1"},
      {"Cluster", "postgresql.cnpg.io/v1"},
      {"Deployment", "apps/v1"},
      {"PodMonitor", "monitoring.coreos.com/v1"},
      {"NetworkPolicy", "networking.k8s.io/v1"},
  };
  for (const auto& [kind, version] : api_versions) {
    INFO(kind);
    CHECK(str(m.one(kind)["apiVersion"]) == version);
  }
  for (const auto& [kind, docs] : m.by_kind) {
    INFO("unexpected kind " << kind);
    CHECK(api_versions.count(kind) == 1);
  }
  CHECK(str(m.kustomization["namespace"]) == str(m.one("Namespace")["metadata"]["name"]));
}

TEST_CASE("the ConfigMap's YAML is a valid pgstream config listening for the probes",
          "[deploy][kubernetes]") {
  const Manifests m = load_manifests();
  const Config config =
      parse_config(m.config_text, m.config_file_key, std::string("host=appdb-rw dbname=app"));
  CHECK(config.metrics.listen_host == "0.0.0.0");
  CHECK(config.metrics.listen_port == 9187);
  CHECK_FALSE(config.stream_tables.empty());
}

TEST_CASE("the CNPG cluster: logical WAL, slots, the managed REPLICATION role", "[deploy][kubernetes]") {
  const Manifests m = load_manifests();
  const YAML::Node cluster = m.one("Cluster");
  const YAML::Node parameters = cluster["spec"]["postgresql"]["parameters"];
  CHECK(str(parameters["wal_level"]) == "logical");
  CHECK(std::stoi(str(parameters["max_replication_slots"])) >= 2);  // the main slot and a temporary one
  CHECK(std::stoi(str(parameters["max_wal_senders"])) >= 2);
  CHECK_FALSE(str(parameters["max_slot_wal_keep_size"]).empty());
  for (const auto& parameter : parameters) CHECK(parameter.second.IsScalar());  // CNPG wants strings

  const YAML::Node role = named(cluster["spec"]["managed"]["roles"], "pgstream");
  CHECK(role["replication"].as<bool>());
  CHECK(role["login"].as<bool>());
  CHECK_FALSE(role["superuser"].as<bool>(false));
  const std::string secret_name = str(role["passwordSecret"]["name"]);
  REQUIRE_FALSE(secret_name.empty());
  const YAML::Node secret = m.one("Secret");
  CHECK(str(secret["metadata"]["name"]) == secret_name);
  CHECK(str(secret["type"]) == "kubernetes.io/basic-auth");
  CHECK(str(secret["stringData"]["username"]) == "pgstream");  // CNPG requires the role's name
  CHECK_FALSE(str(secret["stringData"]["password"]).empty());
}

TEST_CASE("the Deployment: one pgstream, Recreate, probes, resources, locked down", "[deploy][kubernetes]") {
  const Manifests m = load_manifests();
  const Config config = parse_config(m.config_text, m.config_file_key, std::string("host=x"));
  const YAML::Node cluster = m.one("Cluster");
  const std::string cluster_name = str(cluster["metadata"]["name"]);
  const YAML::Node deployment = m.one("Deployment");
  const YAML::Node spec = deployment["spec"];
  CHECK(spec["replicas"].as<int>() == 1);
  CHECK(str(spec["strategy"]["type"]) == "Recreate");  // never two daemons on one slot
  const YAML::Node pod = spec["template"]["spec"];
  const YAML::Node pod_labels = spec["template"]["metadata"]["labels"];
  CHECK(labels_match(spec["selector"]["matchLabels"], pod_labels));

  CHECK(pod["securityContext"]["runAsNonRoot"].as<bool>());
  CHECK(str(pod["securityContext"]["seccompProfile"]["type"]) == "RuntimeDefault");
  REQUIRE(pod["containers"].size() == 1);
  const YAML::Node container = pod["containers"][0];
  CHECK_FALSE(str(container["image"]).empty());
  CHECK(str(named(m.kustomization["images"], str(container["image"]))["newTag"]) != "");

  // The listener: one named container port, the one the config listens on.
  const YAML::Node port = named(container["ports"], "metrics");
  CHECK(port["containerPort"].as<int>() == config.metrics.listen_port);
  auto probe_port_ok = [&](const YAML::Node& probe) {
    const std::string value = str(probe["httpGet"]["port"]);
    return value == "metrics" || value == std::to_string(config.metrics.listen_port);
  };
  for (const char* probe : {"livenessProbe", "startupProbe"}) {
    INFO(probe);
    CHECK(str(container[probe]["httpGet"]["path"]) == "/healthz");
    CHECK(probe_port_ok(container[probe]));
  }
  CHECK(str(container["readinessProbe"]["httpGet"]["path"]) == "/readyz");
  CHECK(probe_port_ok(container["readinessProbe"]));

  for (const char* bound : {"requests", "limits"}) {
    INFO(bound);
    CHECK_FALSE(str(container["resources"][bound]["cpu"]).empty());
    CHECK_FALSE(str(container["resources"][bound]["memory"]).empty());
  }
  const YAML::Node security = container["securityContext"];
  CHECK(security["readOnlyRootFilesystem"].as<bool>());
  CHECK_FALSE(security["allowPrivilegeEscalation"].as<bool>(true));
  REQUIRE(security["capabilities"]["drop"].size() == 1);
  CHECK(str(security["capabilities"]["drop"][0]) == "ALL");

  // The config file: --config names where the generated ConfigMap is mounted.
  const auto args = container["args"].as<std::vector<std::string>>();
  const auto config_flag = std::find(args.begin(), args.end(), "--config");
  REQUIRE(config_flag != args.end());
  REQUIRE(config_flag + 1 != args.end());
  const std::string config_path = *(config_flag + 1);
  std::map<std::string, YAML::Node> mounts;  // mount path -> volume
  for (const auto& mount : container["volumeMounts"]) {
    mounts[str(mount["mountPath"])] = named(pod["volumes"], str(mount["name"]));
    if (str(mount["mountPath"]) == config_path) CHECK(str(mount["subPath"]) == m.config_file_key);
  }
  REQUIRE(mounts.count(config_path) == 1);
  CHECK(str(mounts[config_path]["configMap"]["name"]) == m.config_map_name);
  // Read-only root: spill files go to an emptyDir at $TMPDIR.
  const std::string tmpdir = str(named(container["env"], "TMPDIR")["value"]);
  REQUIRE(mounts.count(tmpdir) == 1);
  CHECK(mounts[tmpdir]["emptyDir"].IsMap());

  // The DSN: the cluster's read-write service, the managed role, its password.
  const YAML::Node role = named(cluster["spec"]["managed"]["roles"], "pgstream");
  const std::string dsn = str(named(container["env"], "PGSTREAM_DSN")["value"]);
  CHECK(dsn.find("host=" + cluster_name + "-rw ") != std::string::npos);
  CHECK(dsn.find("user=" + str(role["name"])) != std::string::npos);
  CHECK(dsn.find("dbname=" + str(cluster["spec"]["bootstrap"]["initdb"]["database"])) != std::string::npos);
  CHECK(dsn.find("password") == std::string::npos);  // a secret: from PGPASSWORD only
  const YAML::Node password = named(container["env"], "PGPASSWORD")["valueFrom"]["secretKeyRef"];
  CHECK(str(password["name"]) == str(role["passwordSecret"]["name"]));
  CHECK(str(password["key"]) == "password");
  std::smatch root_cert;
  if (std::regex_search(dsn, root_cert, std::regex("sslrootcert=(\\S+)"))) {
    const fs::path cert = root_cert[1].str();
    REQUIRE(mounts.count(cert.parent_path().string()) == 1);
    const YAML::Node ca = mounts[cert.parent_path().string()]["secret"];
    CHECK(str(ca["secretName"]) == cluster_name + "-ca");
    REQUIRE(ca["items"].size() == 1);
    CHECK(str(ca["items"][0]["key"]) == "ca.crt");  // never the CA's private key
    CHECK(str(ca["items"][0]["path"]) == cert.filename().string());
  }

  // The image's user (docker/Dockerfile: useradd --uid N) is the pod's.
  std::smatch uid;
  const std::string dockerfile = read_file(source_dir() / "docker/Dockerfile");
  REQUIRE(std::regex_search(dockerfile, uid, std::regex("useradd[^\\n]*--uid (\\d+)")));
  CHECK(pod["securityContext"]["runAsUser"].as<std::string>() == uid[1].str());
}

TEST_CASE("the PodMonitor scrapes the metrics port; the NetworkPolicy lets only that in",
          "[deploy][kubernetes]") {
  const Manifests m = load_manifests();
  const Config config = parse_config(m.config_text, m.config_file_key, std::string("host=x"));
  const YAML::Node pod_template = m.one("Deployment")["spec"]["template"];
  const YAML::Node pod_labels = pod_template["metadata"]["labels"];
  const YAML::Node container = pod_template["spec"]["containers"][0];

  const YAML::Node monitor = m.one("PodMonitor")["spec"];
  CHECK(labels_match(monitor["selector"]["matchLabels"], pod_labels));
  REQUIRE(monitor["podMetricsEndpoints"].size() == 1);
  const YAML::Node endpoint = monitor["podMetricsEndpoints"][0];
  CHECK(str(endpoint["path"]) == "/metrics");
  CHECK(named(container["ports"], str(endpoint["port"]))["containerPort"].as<int>() ==
        config.metrics.listen_port);

  const YAML::Node policy = m.one("NetworkPolicy")["spec"];
  CHECK(labels_match(policy["podSelector"]["matchLabels"], pod_labels));
  const auto types = policy["policyTypes"].as<std::vector<std::string>>();
  CHECK(std::count(types.begin(), types.end(), "Ingress") == 1);
  CHECK(std::count(types.begin(), types.end(), "Egress") == 1);
  REQUIRE(policy["ingress"].size() == 1);
  const YAML::Node ingress = policy["ingress"][0];
  REQUIRE(ingress["ports"].size() == 1);
  CHECK(ingress["ports"][0]["port"].as<int>() == config.metrics.listen_port);
  REQUIRE(ingress["from"].size() == 1);
  CHECK(str(ingress["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]) ==
        "monitoring");

  const std::string cluster_name = str(m.one("Cluster")["metadata"]["name"]);
  bool postgres = false;
  bool dns_udp = false;
  for (const auto& rule : policy["egress"]) {
    for (const auto& port : rule["ports"]) {
      const int number = port["port"].as<int>();
      if (number == 5432 &&
          str(rule["to"][0]["podSelector"]["matchLabels"]["cnpg.io/cluster"]) == cluster_name) {
        postgres = true;
      }
      if (number == 53 && str(port["protocol"]) == "UDP") dns_udp = true;
    }
  }
  CHECK(postgres);
  CHECK(dns_udp);
}

// --- Docker -----------------------------------------------------------------

TEST_CASE("the Dockerfile: COPY sources exist, the runtime stage is slim and non-root", "[deploy][docker]") {
  const std::vector<std::string> lines = dockerfile_lines();
  int stages = 0;
  std::string config_copied_to;
  std::string user;
  std::string healthcheck;
  std::string cmd;
  for (const std::string& line : lines) {
    const std::vector<std::string> w = words(line);
    if (w.empty()) continue;
    if (w[0] == "FROM") ++stages;
    if (w[0] == "COPY" && w[1].rfind("--from=", 0) != 0) {
      for (std::size_t i = 1; i + 1 < w.size(); ++i) {
        INFO("COPY source " << w[i]);
        CHECK(fs::exists(source_dir() / w[i]));
      }
      if (w[1] == "docker/pgstream.yaml") config_copied_to = w.back();
    }
    if (w[0] == "RUN" && stages == 2) {
      INFO(line);
      CHECK_FALSE(std::regex_search(line, std::regex("-dev(\\s|$)")));
    }
    if (w[0] == "USER") user = w[1];
    if (w[0] == "HEALTHCHECK") healthcheck = line;
    if (w[0] == "CMD") cmd = line;
  }
  CHECK(stages == 2);
  CHECK(lines.front() == "FROM debian:bookworm AS build");
  CHECK_FALSE(user.empty());
  CHECK(user != "root");
  CHECK(healthcheck.find("/healthz") != std::string::npos);
  CHECK(healthcheck.find("/9187") != std::string::npos);
  CHECK(std::find(lines.begin(), lines.end(), "EXPOSE 9187") != lines.end());
  CHECK(std::find(lines.begin(), lines.end(), "ENTRYPOINT [\"pgstream\"]") != lines.end());
  REQUIRE_FALSE(config_copied_to.empty());
  CHECK(cmd == "CMD [\"run\", \"--config\", \"" + config_copied_to + "\"]");

  const Config config = parse_config(read_file(source_dir() / "docker/pgstream.yaml"), "docker/pgstream.yaml",
                                     std::string("host=postgres dbname=app"));
  CHECK(config.metrics.listen_host == "0.0.0.0");
  CHECK(config.metrics.listen_port == 9187);
}

TEST_CASE("compose.yaml: logical WAL, the config mounted where the image reads it, Prometheus",
          "[deploy][docker]") {
  const fs::path dir = source_dir() / "docker";
  const YAML::Node compose = YAML::LoadFile((dir / "compose.yaml").string());
  const YAML::Node services = compose["services"];
  REQUIRE(services.IsMap());

  const YAML::Node postgres = services["postgres"];
  CHECK(str(postgres["image"]).rfind("postgres:15", 0) == 0);
  const auto command = postgres["command"].as<std::vector<std::string>>();
  for (const char* setting : {"wal_level=logical", "max_replication_slots=", "max_wal_senders="}) {
    INFO(setting);
    CHECK(std::any_of(command.begin(), command.end(),
                      [&](const std::string& arg) { return arg.rfind(setting, 0) == 0; }));
  }

  const YAML::Node pgstream = services["pgstream"];
  const fs::path context = dir / str(pgstream["build"]["context"]);
  CHECK(fs::is_regular_file(context / str(pgstream["build"]["dockerfile"])));
  CHECK_FALSE(str(pgstream["environment"]["PGSTREAM_DSN"]).empty());
  std::string config_target;
  for (const auto& service : services) {
    for (const auto& volume : service.second["volumes"]) {
      const std::string spec = volume.as<std::string>();
      const std::string source = spec.substr(0, spec.find(':'));
      INFO("volume " << spec);
      if (source.rfind("./", 0) == 0) CHECK(fs::is_regular_file(dir / source));
      if (service.first.as<std::string>() == "pgstream" && source == "./pgstream.yaml") {
        config_target = spec.substr(spec.find(':') + 1);
        config_target = config_target.substr(0, config_target.find(':'));
      }
    }
  }
  // The mounted config replaces the one the image's CMD reads.
  const std::string dockerfile = read_file(dir / "Dockerfile");
  CHECK(dockerfile.find("\"--config\", \"" + config_target + "\"") != std::string::npos);

  const YAML::Node prometheus = YAML::LoadFile((dir / "prometheus.yml").string());
  const YAML::Node job = prometheus["scrape_configs"][0];
  CHECK(str(job["metrics_path"]) == "/metrics");
  CHECK(str(job["static_configs"][0]["targets"][0]) == "pgstream:9187");
}

// --- systemd ----------------------------------------------------------------

TEST_CASE("the systemd unit: notify, watchdog, restart policy, hardening", "[deploy][systemd]") {
  const fs::path unit = source_dir() / "deploy/systemd/pgstream.service";
  const std::string text = read_file(unit);
  for (const char* line :
       {"Type=notify\n", "NotifyAccess=main\n", "WatchdogSec=", "Restart=on-failure\n",
        "RestartPreventExitStatus=1\n", "ExecReload=/bin/kill -HUP $MAINPID\n",
        "ExecStart=/usr/bin/pgstream run --config /etc/pgstream/pgstream.yaml\n",
        "EnvironmentFile=-/etc/default/pgstream\n", "User=pgstream\n", "NoNewPrivileges=yes\n",
        "ProtectSystem=strict\n", "ProtectHome=yes\n", "PrivateTmp=yes\n", "PrivateDevices=yes\n",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n", "SystemCallFilter=@system-service\n",
        "CapabilityBoundingSet=\n"}) {
    INFO(line);
    CHECK(text.find(std::string("\n") + line) != std::string::npos);
  }

  // systemd's own checks, offline: no running systemd needed.
  if (run_shell("command -v systemd-analyze >/dev/null 2>&1").status != 0) {
    WARN("systemd-analyze is not installed: the unit's syntax was not verified by systemd");
    return;
  }
  const char* binary = std::getenv("PGSTREAM_BINARY");
  REQUIRE(binary != nullptr);
  const fs::path dir = fs::temp_directory_path() / ("pgstream-unit-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string copy = text;  // ExecStart must exist for verify: the binary under test
  copy.replace(copy.find("/usr/bin/pgstream"), std::string("/usr/bin/pgstream").size(), binary);
  std::ofstream(dir / "pgstream.service") << copy;
  const CommandResult verify =
      run_shell("systemd-analyze verify --man=no '" + (dir / "pgstream.service").string() + "' 2>&1");
  const CommandResult security =
      run_shell("systemd-analyze security --offline=yes '" + (dir / "pgstream.service").string() + "' 2>&1");
  fs::remove_all(dir);
  INFO(verify.output);
  CHECK(verify.status == 0);
  CHECK(verify.output.empty());  // unknown keys, bad values are only printed
  std::smatch exposure;
  INFO(security.output);
  REQUIRE(std::regex_search(security.output, exposure,
                            std::regex("Overall exposure level for [^:]*: ([0-9.]+)")));
  CHECK(std::stod(exposure[1].str()) <= 2.0);  // "OK" is below 4.0; ours is 1.4
}
