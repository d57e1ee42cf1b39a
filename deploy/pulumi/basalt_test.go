package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// registered is one resource the program declared, as the engine would
// receive it.
type registered struct {
	typ, name string
	inputs    resource.PropertyMap
}

// mocks stand in for the Pulumi engine and the Kubernetes provider: each
// resource is recorded and "created" with its inputs as its state.
type mocks struct {
	mu        sync.Mutex
	resources []registered
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resources = append(m.resources, registered{typ: args.TypeToken, name: args.Name, inputs: args.Inputs})
	return args.Name + "-id", args.Inputs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

// deploy runs the program on c against mocks and returns what it declared.
func deploy(t *testing.T, c Config) *mocks {
	t.Helper()
	m := &mocks{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := newBasalt(ctx, c)
		return err
	}, pulumi.WithMocks("basalt", "test", m))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const testDatabaseURL = "postgres://basalt:s3cret-password@db.example.com:5432/basalt"

// testConfig is a stack with an external database.
func testConfig() Config {
	c := Defaults()
	c.Image = "registry.example.com/basalt@sha256:0123"
	c.DatabaseURL = pulumi.String(testDatabaseURL) // not marked secret: the program must mark it
	return c
}

// kind finds the resources of a Kubernetes kind (or a custom resource's
// apiVersion and kind, as "argoproj.io/v1alpha1:Rollout").
func (m *mocks) kind(k string) []registered {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []registered
	for _, r := range m.resources {
		if r.typ == "kubernetes:"+k {
			out = append(out, r)
		}
	}
	return out
}

func (m *mocks) one(t *testing.T, k string) registered {
	t.Helper()
	rs := m.kind(k)
	if len(rs) != 1 {
		t.Fatalf("%d resources of kind %s; want 1 (declared: %v)", len(rs), k, m.types())
	}
	return rs[0]
}

func (m *mocks) types() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ts []string
	for _, r := range m.resources {
		ts = append(ts, r.typ+" "+r.name)
	}
	sort.Strings(ts)
	return ts
}

// plain is the resource's inputs as JSON-like values (secrets shown as
// "[secret]"), for reading nested fields.
func plain(p resource.PropertyMap) map[string]any {
	return p.MapRepl(nil, func(v resource.PropertyValue) (any, bool) {
		if v.IsSecret() {
			return "[secret]", true
		}
		if v.IsOutput() {
			o := v.OutputValue()
			if o.Secret {
				return "[secret]", true
			}
			if o.Known {
				return plainValue(o.Element), true
			}
			return "[unknown]", true
		}
		return nil, false
	})
}

func plainValue(v resource.PropertyValue) any {
	return plain(resource.PropertyMap{"v": v})["v"]
}

// at walks a path of map keys and list indexes ("spec.template.spec").
func at(t *testing.T, v any, path string) any {
	t.Helper()
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(x) {
				t.Fatalf("%s: no element %s in %v", path, p, x)
			}
			v = x[i]
		default:
			t.Fatalf("%s: %q of %T", path, p, v)
		}
	}
	return v
}

// checkPods checks the pod template every strategy shares.
func checkPods(t *testing.T, tmpl any) {
	t.Helper()
	pod := at(t, tmpl, "spec")
	sc := at(t, pod, "securityContext").(map[string]any)
	if sc["runAsNonRoot"] != true || sc["runAsUser"] != 65532.0 || at(t, sc, "seccompProfile.type") != "RuntimeDefault" {
		t.Errorf("pod security context %v", sc)
	}
	if at(t, pod, "automountServiceAccountToken") != false {
		t.Error("the pods mount a service account token")
	}
	c := at(t, pod, "containers.0")
	if at(t, c, "args.0") != "serve" {
		t.Errorf("args %v", at(t, c, "args"))
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		if at(t, c, probe+".httpGet.path") != path {
			t.Errorf("%s on %v; want %s", probe, at(t, c, probe+".httpGet.path"), path)
		}
	}
	for _, r := range []string{"limits.cpu", "limits.memory", "requests.cpu", "requests.memory"} {
		if s, _ := at(t, c, "resources."+r).(string); s == "" {
			t.Errorf("no %s", r)
		}
	}
	csc := at(t, c, "securityContext").(map[string]any)
	if csc["allowPrivilegeEscalation"] != false || csc["readOnlyRootFilesystem"] != true || at(t, csc, "capabilities.drop.0") != "ALL" {
		t.Errorf("container security context %v", csc)
	}
	if at(t, c, "lifecycle.preStop.sleep.seconds") == nil || at(t, pod, "terminationGracePeriodSeconds").(float64) < 20 {
		t.Error("no time to drain")
	}
	// No secret in the pod spec: the database URL comes from a Secret.
	b, _ := json.Marshal(tmpl)
	if strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "postgres://") {
		t.Errorf("the pod template holds a secret in plain text: %s", b)
	}
	env := map[string]any{}
	for _, e := range at(t, c, "env").([]any) {
		env[at(t, e, "name").(string)] = e
	}
	if _, ok := env["BASALT_DB"]; !ok {
		t.Fatalf("no BASALT_DB in %v", env)
	}
	if at(t, env["BASALT_DB"], "valueFrom.secretKeyRef.key") == nil {
		t.Errorf("BASALT_DB is not read from a Secret: %v", env["BASALT_DB"])
	}
}

func TestRollingDeployment(t *testing.T) {
	m := deploy(t, testConfig())
	d := plain(m.one(t, "apps/v1:Deployment").inputs)
	if at(t, d, "spec.replicas") != 3.0 || at(t, d, "spec.strategy.rollingUpdate.maxUnavailable") != 0.0 {
		t.Errorf("deployment spec %v", at(t, d, "spec"))
	}
	checkPods(t, at(t, d, "spec.template"))

	// The Secret holds the URL, and Pulumi keeps it secret.
	s := m.one(t, "core/v1:Secret")
	if sd := s.inputs["stringData"]; !sd.ContainsSecrets() {
		t.Errorf("the database URL is not a Pulumi secret: %v", sd)
	}
	if b, _ := json.Marshal(plain(s.inputs)); strings.Contains(string(b), "s3cret") {
		t.Errorf("the Secret's value is readable: %s", b)
	}

	if at(t, plain(m.one(t, "policy/v1:PodDisruptionBudget").inputs), "spec.maxUnavailable") != 1.0 {
		t.Error("the disruption budget does not keep all but one pod")
	}
	hpa := plain(m.one(t, "autoscaling/v2:HorizontalPodAutoscaler").inputs)
	if at(t, hpa, "spec.scaleTargetRef.kind") != "Deployment" || at(t, hpa, "spec.minReplicas") != 3.0 || at(t, hpa, "spec.maxReplicas") != 10.0 {
		t.Errorf("autoscaler %v", at(t, hpa, "spec"))
	}
	np := plain(m.one(t, "networking.k8s.io/v1:NetworkPolicy").inputs)
	from := at(t, np, "spec.ingress.1.from.0.namespaceSelector.matchLabels").(map[string]any)
	if at(t, np, "spec.ingress.1.ports.0.port") != 9090.0 || from["kubernetes.io/metadata.name"] != "monitoring" {
		t.Errorf("the metrics port is open to %v", at(t, np, "spec.ingress"))
	}
	sm := plain(m.one(t, "monitoring.coreos.com/v1:ServiceMonitor").inputs)
	if at(t, sm, "spec.endpoints.0.port") != "metrics" || at(t, sm, "spec.jobLabel") != "app.kubernetes.io/name" || at(t, sm, "spec.endpoints.0.relabelings.0.targetLabel") != "rollouts_pod_template_hash" {
		t.Errorf("service monitor %v", sm["spec"])
	}
	rules, _ := json.Marshal(plain(m.one(t, "monitoring.coreos.com/v1:PrometheusRule").inputs))
	for _, alert := range []string{"BasaltErrorBudgetBurn", "BasaltLatencyBudgetBurn", "BasaltDatabaseDown", "BasaltRevocationFeedStale", "basalt_slo:errors:ratio_rate5m"} {
		if !strings.Contains(string(rules), alert) {
			t.Errorf("the PrometheusRule lacks %s", alert)
		}
	}
	cron := plain(m.one(t, "batch/v1:CronJob").inputs)
	if at(t, cron, "spec.schedule") != "0 3 1 * *" || at(t, cron, "spec.jobTemplate.spec.template.spec.containers.0.args.1") != "rotate" {
		t.Errorf("key rotation %v", cron["spec"])
	}
	if labels := at(t, cron, "spec.jobTemplate.spec.template.metadata.labels").(map[string]any); labels["app.kubernetes.io/component"] == "server" {
		t.Error("the key rotation pods carry the server's labels: the Service would route to them")
	}
	if len(m.kind("argoproj.io/v1alpha1:Rollout")) != 0 || len(m.kind("argoproj.io/v1alpha1:AnalysisTemplate")) != 0 {
		t.Error("a rolling deployment declared Argo Rollouts resources")
	}
	ns := plain(m.one(t, "core/v1:Namespace").inputs)
	if labels := at(t, ns, "metadata.labels").(map[string]any); labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace labels %v", labels)
	}
}

func TestCanaryRollout(t *testing.T) {
	c := testConfig()
	c.Strategy = "canary"
	c.PrometheusAddress = "http://prom.example:9090"
	m := deploy(t, c)
	if len(m.kind("apps/v1:Deployment")) != 0 {
		t.Error("a canary declared a Deployment")
	}
	r := plain(m.one(t, "argoproj.io/v1alpha1:Rollout").inputs)
	checkPods(t, at(t, r, "spec.template"))
	canary := at(t, r, "spec.strategy.canary")
	if at(t, canary, "analysis.templates.0.templateName") != "basalt-slo-burn" ||
		at(t, canary, "analysis.args.0.valueFrom.podTemplateHashValue") != "Latest" || at(t, canary, "steps.0.setWeight") != 10.0 {
		t.Errorf("canary strategy %v", canary)
	}
	a := plain(m.one(t, "argoproj.io/v1alpha1:AnalysisTemplate").inputs)
	var names []string
	for _, metric := range at(t, a, "spec.metrics").([]any) {
		names = append(names, at(t, metric, "name").(string))
		if q := at(t, metric, "provider.prometheus.query").(string); !strings.Contains(q, "rollouts_pod_template_hash=\"{{args.pod-template-hash}}\"") {
			t.Errorf("metric query %s", q)
		}
	}
	if !slices.Equal(names, []string{"error-budget-burn", "latency-budget-burn"}) {
		t.Errorf("analysis metrics %v", names)
	}
	if at(t, a, "spec.args.0.value") != "http://prom.example:9090" {
		t.Errorf("the analysis queries %v", at(t, a, "spec.args.0"))
	}
	if at(t, plain(m.one(t, "autoscaling/v2:HorizontalPodAutoscaler").inputs), "spec.scaleTargetRef.kind") != "Rollout" {
		t.Error("the autoscaler does not scale the Rollout")
	}
}

func TestBlueGreenRollout(t *testing.T) {
	c := testConfig()
	c.Strategy = "bluegreen"
	m := deploy(t, c)
	bg := at(t, plain(m.one(t, "argoproj.io/v1alpha1:Rollout").inputs), "spec.strategy.blueGreen")
	if at(t, bg, "activeService") != "basalt" || at(t, bg, "previewService") != "basalt-preview" ||
		at(t, bg, "prePromotionAnalysis.templates.0.templateName") != "basalt-slo-burn" ||
		at(t, bg, "postPromotionAnalysis.templates.0.templateName") != "basalt-slo-burn" {
		t.Errorf("blue-green strategy %v", bg)
	}
	if n := len(m.kind("core/v1:Service")); n != 2 {
		t.Errorf("%d Services; want the active and the preview", n)
	}
}

func TestOperators(t *testing.T) {
	c := testConfig()
	c.Database, c.DatabaseURL = "cloudnativepg", nil
	c.Kafka, c.KafkaReplicas = "strimzi", 3
	c.Namespace = "prod"
	m := deploy(t, c)
	pg := plain(m.one(t, "postgresql.cnpg.io/v1:Cluster").inputs)
	if at(t, pg, "spec.instances") != 3.0 || at(t, pg, "spec.bootstrap.initdb.database") != "basalt" {
		t.Errorf("CloudNativePG cluster %v", pg["spec"])
	}
	k := plain(m.one(t, "kafka.strimzi.io/v1beta2:Kafka").inputs)
	if cfg := at(t, k, "spec.kafka.config").(map[string]any); cfg["min.insync.replicas"] != 2.0 || cfg["default.replication.factor"] != 3.0 {
		t.Errorf("Kafka config %v", cfg)
	}
	pool := plain(m.one(t, "kafka.strimzi.io/v1beta2:KafkaNodePool").inputs)
	if at(t, pool, "spec.replicas") != 3.0 {
		t.Errorf("node pool %v", pool["spec"])
	}
	d := plain(m.one(t, "apps/v1:Deployment").inputs)
	checkPods(t, at(t, d, "spec.template"))
	env := map[string]any{}
	for _, e := range at(t, d, "spec.template.spec.containers.0.env").([]any) {
		env[at(t, e, "name").(string)] = e
	}
	if at(t, env["BASALT_DB"], "valueFrom.secretKeyRef.name") != "basalt-db-app" || at(t, env["BASALT_DB"], "valueFrom.secretKeyRef.key") != "uri" {
		t.Errorf("BASALT_DB %v; want CloudNativePG's app secret", env["BASALT_DB"])
	}
	if at(t, env["BASALT_KAFKA"], "value") != "basalt-kafka-kafka-bootstrap.prod.svc:9092" {
		t.Errorf("BASALT_KAFKA %v", env["BASALT_KAFKA"])
	}
}

func TestConfigRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no image", func(c *Config) { c.Image = "" }, "basalt:image is not set"},
		{"unknown strategy", func(c *Config) { c.Strategy = "yolo" }, "want rolling, canary or bluegreen"},
		{"one replica", func(c *Config) { c.Replicas = 1 }, "at least 2"},
		{"external database without a URL", func(c *Config) { c.DatabaseURL = nil }, "databaseUrl is not set"},
		{"external redis without a URL", func(c *Config) { c.Redis = "external" }, "redisUrl is not set"},
		{"external kafka without brokers", func(c *Config) { c.Kafka = "external" }, "kafkaBrokers is not set"},
		{"no deploy directory", func(c *Config) { c.DeployDir = "/nonexistent" }, "deployDir"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			c.edit(&cfg)
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v; want an error with %q", err, c.want)
			}
		})
	}
}

// TestProject: Pulumi.yaml is a valid project whose configuration is what
// the program reads, with the same defaults.
func TestProject(t *testing.T) {
	p, err := workspace.LoadProject("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "basalt" || p.Runtime.Name() != "go" {
		t.Fatalf("project %s, runtime %s", p.Name, p.Runtime.Name())
	}
	d := Defaults()
	want := map[string]any{
		"namespace": d.Namespace, "createNamespace": d.CreateNamespace, "strategy": d.Strategy, "replicas": d.Replicas,
		"maxReplicas": d.MaxReplicas, "targetCPU": d.TargetCPU, "cpuRequest": d.CPURequest, "memoryRequest": d.MemoryRequest,
		"cpuLimit": d.CPULimit, "memoryLimit": d.MemoryLimit, "database": d.Database, "postgresInstances": d.PostgresInstances,
		"postgresStorage": d.PostgresStorage, "redis": d.Redis, "kafka": d.Kafka, "kafkaReplicas": d.KafkaReplicas,
		"kafkaStorage": d.KafkaStorage, "monitoring": d.Monitoring, "monitoringNamespace": d.MonitoringNamespace,
		"prometheusAddress": d.PrometheusAddress, "keyRotation": d.KeyRotation, "deployDir": d.DeployDir,
		"image": nil, "databaseUrl": nil, "redisUrl": nil, "kafkaBrokers": nil,
	}
	for key, def := range want {
		ct, ok := p.Config[key]
		if !ok {
			t.Errorf("Pulumi.yaml has no %s", key)
			continue
		}
		if def != nil && fmt.Sprint(ct.Default) != fmt.Sprint(def) {
			t.Errorf("%s defaults to %v in Pulumi.yaml and to %v in the program", key, ct.Default, def)
		}
	}
	for key := range p.Config {
		if _, ok := want[key]; !ok {
			t.Errorf("Pulumi.yaml has %s, which the program does not read", key)
		}
	}
	for _, key := range []string{"databaseUrl", "redisUrl"} {
		if !p.Config[key].Secret {
			t.Errorf("%s is not marked secret", key)
		}
	}
}
