package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// The ports of a Basalt pod: the API (--addr) and the private listener of
// /metrics, /healthz and /readyz (--metrics-addr), which only Prometheus
// reaches.
const (
	apiPort     = 8080
	metricsPort = 9090
	name        = "basalt"
	dataDir     = "/var/lib/basalt"
	uid         = 65532
	// analysisName is the AnalysisTemplate of deploy/argo.
	analysisName = "basalt-slo-burn"
)

// Deployment is what newBasalt made, for the stack's outputs and tests.
type Deployment struct {
	Namespace pulumi.StringOutput
	Service   pulumi.StringOutput
}

// newBasalt declares Basalt on Kubernetes as c says.
func newBasalt(ctx *pulumi.Context, c Config) (*Deployment, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	labels := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(name), "app.kubernetes.io/component": pulumi.String("server")}
	var ns pulumi.StringInput = pulumi.String(c.Namespace)
	var deps []pulumi.Resource
	if c.CreateNamespace {
		n, err := corev1.NewNamespace(ctx, c.Namespace, &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(c.Namespace),
				// Pods here must run as the restricted Pod Security Standard asks.
				Labels: pulumi.StringMap{"pod-security.kubernetes.io/enforce": pulumi.String("restricted")}},
		})
		if err != nil {
			return nil, err
		}
		ns, deps = n.Metadata.Name().Elem(), append(deps, n)
	}
	opts := []pulumi.ResourceOption{pulumi.DependsOn(deps)}
	meta := func(n string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: ns, Labels: labels}
	}

	// The dependencies: referenced, or made through their operators.
	env, err := dependencies(ctx, c, ns, opts)
	if err != nil {
		return nil, err
	}

	// Secrets never appear in a pod spec: the pods read them from a
	// Secret whose values Pulumi keeps encrypted in the state.
	secretData := pulumi.StringMap{}
	if c.DatabaseURL != nil && c.Database == "external" {
		secretData["BASALT_DB"] = pulumi.ToSecret(c.DatabaseURL).(pulumi.StringOutput)
	}
	if c.RedisURL != nil && c.Redis == "external" {
		secretData["BASALT_REDIS"] = pulumi.ToSecret(c.RedisURL).(pulumi.StringOutput)
	}
	secret, err := corev1.NewSecret(ctx, name, &corev1.SecretArgs{Metadata: meta(name), Type: pulumi.String("Opaque"), StringData: secretData}, opts...)
	if err != nil {
		return nil, err
	}
	fromSecret := func(key string) corev1.EnvVarArgs {
		return corev1.EnvVarArgs{Name: pulumi.String(key), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: secret.Metadata.Name().Elem(), Key: pulumi.String(key)}}}
	}
	for key := range secretData {
		env = append(env, fromSecret(key))
	}
	sortEnv(env)

	sa, err := corev1.NewServiceAccount(ctx, name, &corev1.ServiceAccountArgs{Metadata: meta(name),
		AutomountServiceAccountToken: pulumi.Bool(false)}, opts...)
	if err != nil {
		return nil, err
	}
	template := podTemplate(c, labels, sa.Metadata.Name().Elem(), env)

	svc, err := corev1.NewService(ctx, name, &corev1.ServiceArgs{Metadata: meta(name), Spec: serviceSpec(labels)}, opts...)
	if err != nil {
		return nil, err
	}
	if c.Strategy == "bluegreen" {
		if _, err := corev1.NewService(ctx, name+"-preview", &corev1.ServiceArgs{Metadata: meta(name + "-preview"), Spec: serviceSpec(labels)}, opts...); err != nil {
			return nil, err
		}
	}

	// The workload, and how a new version replaces the old.
	var workload pulumi.Resource
	var target autoscalingv2.CrossVersionObjectReferenceArgs
	if c.Strategy == "rolling" {
		d, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{Metadata: meta(name), Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(c.Replicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: template,
			// A new pod serves before an old one leaves: the two
			// versions share the database (expand/contract migrations).
			Strategy: &appsv1.DeploymentStrategyArgs{Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.String("25%")}},
			MinReadySeconds:      pulumi.Int(10),
			RevisionHistoryLimit: pulumi.Int(5),
		}}, withOpts(opts, pulumi.IgnoreChanges([]string{"spec.replicas"}))...) // the autoscaler's
		if err != nil {
			return nil, err
		}
		workload = d
		target = autoscalingv2.CrossVersionObjectReferenceArgs{ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: pulumi.String(name)}
	} else {
		analysis, err := analysisTemplate(ctx, c, ns, labels, opts)
		if err != nil {
			return nil, err
		}
		r, err := rollout(ctx, c, meta(name), labels, template,
			withOpts(opts, pulumi.DependsOn([]pulumi.Resource{analysis, svc}), pulumi.IgnoreChanges([]string{"spec.replicas"}))...)
		if err != nil {
			return nil, err
		}
		workload = r
		target = autoscalingv2.CrossVersionObjectReferenceArgs{ApiVersion: pulumi.String("argoproj.io/v1alpha1"), Kind: pulumi.String("Rollout"), Name: pulumi.String(name)}
	}

	if _, err := policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{Metadata: meta(name),
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{MaxUnavailable: pulumi.Int(1), Selector: &metav1.LabelSelectorArgs{MatchLabels: labels}}}, opts...); err != nil {
		return nil, err
	}
	if _, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, name, &autoscalingv2.HorizontalPodAutoscalerArgs{Metadata: meta(name),
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: target, MinReplicas: pulumi.Int(c.Replicas), MaxReplicas: pulumi.Int(c.MaxReplicas),
			Metrics: autoscalingv2.MetricSpecArray{autoscalingv2.MetricSpecArgs{Type: pulumi.String("Resource"),
				Resource: &autoscalingv2.ResourceMetricSourceArgs{Name: pulumi.String("cpu"),
					Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(c.TargetCPU)}}}},
		}}, withOpts(opts, pulumi.DependsOn([]pulumi.Resource{workload}))...); err != nil {
		return nil, err
	}
	if err := networkPolicy(ctx, c, meta(name), labels, opts); err != nil {
		return nil, err
	}
	if c.Monitoring {
		if err := monitoring(ctx, c, ns, labels, opts); err != nil {
			return nil, err
		}
	}
	if c.KeyRotation != "" {
		if err := keyRotation(ctx, c, meta(name+"-keys-rotate"), template, opts); err != nil {
			return nil, err
		}
	}
	return &Deployment{Namespace: ns.ToStringOutput(), Service: svc.Metadata.Name().Elem()}, nil
}

func serviceSpec(labels pulumi.StringMap) *corev1.ServiceSpecArgs {
	return &corev1.ServiceSpecArgs{Selector: labels, Ports: corev1.ServicePortArray{
		corev1.ServicePortArgs{Name: pulumi.String("http"), Port: pulumi.Int(80), TargetPort: pulumi.String("http")},
		corev1.ServicePortArgs{Name: pulumi.String("metrics"), Port: pulumi.Int(metricsPort), TargetPort: pulumi.String("metrics")},
	}}
}

// podTemplate is the pods of every strategy: non-root, read-only, no
// privileges, probed on /healthz and /readyz, given time to drain.
func podTemplate(c Config, labels pulumi.StringMap, serviceAccount pulumi.StringInput, env corev1.EnvVarArray) *corev1.PodTemplateSpecArgs {
	probe := func(path string, period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{HttpGet: &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("metrics")},
			PeriodSeconds: pulumi.Int(period), FailureThreshold: pulumi.Int(failures), TimeoutSeconds: pulumi.Int(2)}
	}
	return &corev1.PodTemplateSpecArgs{
		Metadata: &metav1.ObjectMetaArgs{Labels: labels},
		Spec: &corev1.PodSpecArgs{
			ServiceAccountName:           serviceAccount,
			AutomountServiceAccountToken: pulumi.Bool(false),
			// Basalt drains on SIGTERM (--drain-timeout, 15 s); the pod
			// first waits for the endpoints to forget it (preStop).
			TerminationGracePeriodSeconds: pulumi.Int(30),
			SecurityContext: &corev1.PodSecurityContextArgs{
				RunAsNonRoot: pulumi.Bool(true), RunAsUser: pulumi.Int(uid), RunAsGroup: pulumi.Int(uid), FsGroup: pulumi.Int(uid),
				SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
			},
			TopologySpreadConstraints: corev1.TopologySpreadConstraintArray{
				corev1.TopologySpreadConstraintArgs{MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("topology.kubernetes.io/zone"),
					WhenUnsatisfiable: pulumi.String("ScheduleAnyway"), LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: labels}},
				corev1.TopologySpreadConstraintArgs{MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("kubernetes.io/hostname"),
					WhenUnsatisfiable: pulumi.String("ScheduleAnyway"), LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: labels}},
			},
			Containers: corev1.ContainerArray{corev1.ContainerArgs{
				Name:  pulumi.String(name),
				Image: pulumi.String(c.Image),
				Args:  pulumi.StringArray{pulumi.String("serve")},
				Env:   env,
				Ports: corev1.ContainerPortArray{
					corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(apiPort)},
					corev1.ContainerPortArgs{Name: pulumi.String("metrics"), ContainerPort: pulumi.Int(metricsPort)},
				},
				// Migrations run at start: give them a minute.
				StartupProbe:   probe("/healthz", 2, 30),
				LivenessProbe:  probe("/healthz", 10, 3),
				ReadinessProbe: probe("/readyz", 5, 2),
				Lifecycle: &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
					Sleep: &corev1.SleepActionArgs{Seconds: pulumi.Int(5)}}},
				Resources: &corev1.ResourceRequirementsArgs{
					Requests: pulumi.StringMap{"cpu": pulumi.String(c.CPURequest), "memory": pulumi.String(c.MemoryRequest)},
					Limits:   pulumi.StringMap{"cpu": pulumi.String(c.CPULimit), "memory": pulumi.String(c.MemoryLimit)},
				},
				SecurityContext: &corev1.SecurityContextArgs{
					AllowPrivilegeEscalation: pulumi.Bool(false), ReadOnlyRootFilesystem: pulumi.Bool(true),
					RunAsNonRoot: pulumi.Bool(true), Capabilities: &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
				},
				VolumeMounts: corev1.VolumeMountArray{
					corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String(dataDir)},
					corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
				},
			}},
			// With PostgreSQL the data directory holds only this pod's
			// local state.
			Volumes: corev1.VolumeArray{
				corev1.VolumeArgs{Name: pulumi.String("data"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("1Gi")}},
				corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("256Mi")}},
			},
		},
	}
}

// dependencies makes or references PostgreSQL, Redis and Kafka, and
// returns the environment that points Basalt at them (secrets apart).
func dependencies(ctx *pulumi.Context, c Config, ns pulumi.StringInput, opts []pulumi.ResourceOption) (corev1.EnvVarArray, error) {
	env := corev1.EnvVarArray{
		corev1.EnvVarArgs{Name: pulumi.String("BASALT_ADDR"), Value: pulumi.Sprintf("0.0.0.0:%d", apiPort)},
		corev1.EnvVarArgs{Name: pulumi.String("BASALT_METRICS_ADDR"), Value: pulumi.Sprintf("0.0.0.0:%d", metricsPort)},
		corev1.EnvVarArgs{Name: pulumi.String("BASALT_DATA_DIR"), Value: pulumi.String(dataDir)},
	}
	if c.Database == "cloudnativepg" {
		// CloudNativePG keeps the application user's connection URI in
		// the Secret <cluster>-app.
		if _, err := apiextensions.NewCustomResource(ctx, name+"-db", &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String("postgresql.cnpg.io/v1"), Kind: pulumi.String("Cluster"),
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(name + "-db"), Namespace: ns},
			OtherFields: kubernetes.UntypedArgs{"spec": map[string]any{
				"instances":  c.PostgresInstances,
				"storage":    map[string]any{"size": c.PostgresStorage},
				"bootstrap":  map[string]any{"initdb": map[string]any{"database": name, "owner": name}},
				"monitoring": map[string]any{"enablePodMonitor": c.Monitoring},
			}},
		}, opts...); err != nil {
			return nil, err
		}
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String("BASALT_DB"), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: pulumi.String(name + "-db-app"), Key: pulumi.String("uri")}}})
	}
	switch c.Kafka {
	case "external":
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String("BASALT_KAFKA"), Value: pulumi.String(c.KafkaBrokers)})
	case "strimzi":
		// A KRaft cluster: one node pool of brokers that are also
		// controllers.
		cluster := name + "-kafka"
		if _, err := apiextensions.NewCustomResource(ctx, cluster+"-pool", &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String("kafka.strimzi.io/v1beta2"), Kind: pulumi.String("KafkaNodePool"),
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("dual-role"), Namespace: ns,
				Labels: pulumi.StringMap{"strimzi.io/cluster": pulumi.String(cluster)}},
			OtherFields: kubernetes.UntypedArgs{"spec": map[string]any{
				"replicas": c.KafkaReplicas,
				"roles":    []string{"controller", "broker"},
				"storage":  map[string]any{"type": "persistent-claim", "size": c.KafkaStorage, "deleteClaim": false},
			}},
		}, opts...); err != nil {
			return nil, err
		}
		rf := min(3, c.KafkaReplicas)
		if _, err := apiextensions.NewCustomResource(ctx, cluster, &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String("kafka.strimzi.io/v1beta2"), Kind: pulumi.String("Kafka"),
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(cluster), Namespace: ns,
				Annotations: pulumi.StringMap{"strimzi.io/node-pools": pulumi.String("enabled"), "strimzi.io/kraft": pulumi.String("enabled")}},
			OtherFields: kubernetes.UntypedArgs{"spec": map[string]any{
				"kafka": map[string]any{
					"listeners": []any{map[string]any{"name": "plain", "port": 9092, "type": "internal", "tls": false}},
					"config": map[string]any{
						"default.replication.factor": rf, "min.insync.replicas": max(1, rf-1),
						"offsets.topic.replication.factor": rf, "transaction.state.log.replication.factor": rf,
						"transaction.state.log.min.isr": max(1, rf-1),
					},
				},
				"entityOperator": map[string]any{"topicOperator": map[string]any{}},
			}},
		}, opts...); err != nil {
			return nil, err
		}
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String("BASALT_KAFKA"),
			Value: pulumi.Sprintf("%s-kafka-bootstrap.%s.svc:9092", cluster, ns)})
	}
	return env, nil
}

// rollout is the Argo Rollouts Rollout of the canary or blue-green
// strategy: each new version is analyzed against the objectives
// (deploy/argo) and rolled back by itself when it burns its budget.
func rollout(ctx *pulumi.Context, c Config, meta *metav1.ObjectMetaArgs, labels pulumi.StringMap, template *corev1.PodTemplateSpecArgs, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
	analysis := map[string]any{
		"templates": []any{map[string]any{"templateName": analysisName}},
		"args": []any{map[string]any{"name": "pod-template-hash",
			"valueFrom": map[string]any{"podTemplateHashValue": "Latest"}}},
	}
	var strategy map[string]any
	if c.Strategy == "canary" {
		strategy = map[string]any{"canary": map[string]any{
			// Measured from the first step to the end: a burn at any
			// point aborts the rollout.
			"analysis":       merge(analysis, map[string]any{"startingStep": 1}),
			"maxUnavailable": 0,
			"steps": []any{
				map[string]any{"setWeight": 10}, map[string]any{"pause": map[string]any{"duration": "5m"}},
				map[string]any{"setWeight": 25}, map[string]any{"pause": map[string]any{"duration": "5m"}},
				map[string]any{"setWeight": 50}, map[string]any{"pause": map[string]any{"duration": "5m"}},
			},
		}}
	} else {
		strategy = map[string]any{"blueGreen": map[string]any{
			"activeService":  name,
			"previewService": name + "-preview",
			// The preview is analyzed on what reaches it (smoke tests
			// through the preview Service), then the new version again
			// on the production traffic once it is active; either may
			// abort and switch back.
			"prePromotionAnalysis":  analysis,
			"postPromotionAnalysis": analysis,
			"autoPromotionEnabled":  true,
			"scaleDownDelaySeconds": 300,
		}}
	}
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("argoproj.io/v1alpha1"), Kind: pulumi.String("Rollout"), Metadata: meta,
		OtherFields: kubernetes.UntypedArgs{"spec": map[string]any{
			"replicas":             c.Replicas,
			"revisionHistoryLimit": 5,
			"minReadySeconds":      10,
			"selector":             map[string]any{"matchLabels": labels},
			"template":             template,
			"strategy":             strategy,
		}},
	}, opts...)
}

// withOpts is opts and more, in a new slice.
func withOpts(opts []pulumi.ResourceOption, more ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append(append([]pulumi.ResourceOption(nil), opts...), more...)
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// analysisTemplate declares deploy/argo/analysis-template.yaml, with the
// stack's Prometheus address.
func analysisTemplate(ctx *pulumi.Context, c Config, ns pulumi.StringInput, labels pulumi.StringMap, opts []pulumi.ResourceOption) (pulumi.Resource, error) {
	var doc struct {
		Spec map[string]any `yaml:"spec"`
	}
	if err := readYAML(filepath.Join(c.DeployDir, "argo/analysis-template.yaml"), &doc); err != nil {
		return nil, err
	}
	args, _ := doc.Spec["args"].([]any)
	for _, a := range args {
		if m, ok := a.(map[string]any); ok && m["name"] == "prometheus-address" {
			m["value"] = c.PrometheusAddress
		}
	}
	return apiextensions.NewCustomResource(ctx, analysisName, &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("argoproj.io/v1alpha1"), Kind: pulumi.String("AnalysisTemplate"),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(analysisName), Namespace: ns, Labels: labels},
		OtherFields: kubernetes.UntypedArgs{"spec": doc.Spec},
	}, opts...)
}

// networkPolicy lets any pod reach the API and only the monitoring
// namespace reach the metrics port.
func networkPolicy(ctx *pulumi.Context, c Config, meta *metav1.ObjectMetaArgs, labels pulumi.StringMap, opts []pulumi.ResourceOption) error {
	_, err := networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{Metadata: meta, Spec: &networkingv1.NetworkPolicySpecArgs{
		PodSelector: &metav1.LabelSelectorArgs{MatchLabels: labels},
		PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
		Ingress: networkingv1.NetworkPolicyIngressRuleArray{
			networkingv1.NetworkPolicyIngressRuleArgs{
				Ports: networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(apiPort), Protocol: pulumi.String("TCP")}},
			},
			networkingv1.NetworkPolicyIngressRuleArgs{
				Ports: networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(metricsPort), Protocol: pulumi.String("TCP")}},
				From: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: &metav1.LabelSelectorArgs{
					MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(c.MonitoringNamespace)}}}},
			},
		},
	}}, opts...)
	return err
}

// monitoring declares the ServiceMonitor (which copies the Rollout's pod
// template hash to the label the analysis reads) and the PrometheusRule
// of deploy/prometheus.
func monitoring(ctx *pulumi.Context, c Config, ns pulumi.StringInput, labels pulumi.StringMap, opts []pulumi.ResourceOption) error {
	if _, err := apiextensions.NewCustomResource(ctx, name+"-monitor", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("monitoring.coreos.com/v1"), Kind: pulumi.String("ServiceMonitor"),
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: ns, Labels: labels},
		OtherFields: kubernetes.UntypedArgs{"spec": map[string]any{
			"selector": map[string]any{"matchLabels": labels},
			// job="basalt" whichever Service (active or blue-green's
			// preview) a pod is found through, as the analysis expects.
			"jobLabel": "app.kubernetes.io/name",
			"endpoints": []any{map[string]any{
				"port": "metrics", "interval": "15s",
				"relabelings": []any{map[string]any{
					"sourceLabels": []string{"__meta_kubernetes_pod_label_rollouts_pod_template_hash"},
					"targetLabel":  "rollouts_pod_template_hash",
				}},
			}},
		}},
	}, opts...); err != nil {
		return err
	}
	var groups []any
	for _, f := range []string{"prometheus/slo.rules.yaml", "prometheus/alerts.rules.yaml"} {
		var doc struct {
			Groups []any `yaml:"groups"`
		}
		if err := readYAML(filepath.Join(c.DeployDir, f), &doc); err != nil {
			return err
		}
		groups = append(groups, doc.Groups...)
	}
	_, err := apiextensions.NewCustomResource(ctx, name+"-rules", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("monitoring.coreos.com/v1"), Kind: pulumi.String("PrometheusRule"),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: ns, Labels: labels},
		OtherFields: kubernetes.UntypedArgs{"spec": map[string]any{"groups": groups}},
	}, opts...)
	return err
}

// keyRotation runs "basalt keys rotate" on a schedule, in a pod like the
// server's: access tokens get a new signing key, and the old ones retire
// once their last token has expired.
func keyRotation(ctx *pulumi.Context, c Config, meta *metav1.ObjectMetaArgs, template *corev1.PodTemplateSpecArgs, opts []pulumi.ResourceOption) error {
	spec := *template.Spec.(*corev1.PodSpecArgs)
	container := spec.Containers.(corev1.ContainerArray)[0].(corev1.ContainerArgs)
	container.Name = pulumi.String("keys-rotate")
	container.Args = pulumi.StringArray{pulumi.String("keys"), pulumi.String("rotate")}
	container.Ports, container.StartupProbe, container.LivenessProbe, container.ReadinessProbe, container.Lifecycle = nil, nil, nil, nil, nil
	spec.Containers = corev1.ContainerArray{container}
	spec.RestartPolicy = pulumi.String("OnFailure")
	spec.TopologySpreadConstraints = nil
	_, err := batchv1.NewCronJob(ctx, name+"-keys-rotate", &batchv1.CronJobArgs{Metadata: meta, Spec: &batchv1.CronJobSpecArgs{
		Schedule:          pulumi.String(c.KeyRotation),
		ConcurrencyPolicy: pulumi.String("Forbid"),
		JobTemplate: &batchv1.JobTemplateSpecArgs{Spec: &batchv1.JobSpecArgs{
			BackoffLimit: pulumi.Int(3),
			// Not the server's labels: the Service and the disruption
			// budget must not count these pods.
			Template: &corev1.PodTemplateSpecArgs{Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.StringMap{
				"app.kubernetes.io/name": pulumi.String(name), "app.kubernetes.io/component": pulumi.String("keys-rotate")}}, Spec: &spec},
		}},
	}}, opts...)
	return err
}

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// sortEnv orders the environment by name, so that the pod spec does not
// change from run to run.
func sortEnv(env corev1.EnvVarArray) {
	nameOf := func(e corev1.EnvVarInput) string {
		if a, ok := e.(corev1.EnvVarArgs); ok {
			if s, ok := a.Name.(pulumi.String); ok {
				return string(s)
			}
		}
		return ""
	}
	slices.SortStableFunc(env, func(a, b corev1.EnvVarInput) int { return strings.Compare(nameOf(a), nameOf(b)) })
}
