package kubernetes

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const deliverFile = "deliver-deployment.yaml"

// TestDeliverDeployment checks what operators rely on in the sender's
// Deployment, beyond what every pod must be (TestPodTemplates): two
// replicas that a rollout or a drain never both stop, probes, the port of
// /metrics and the receipts, and every credential the ConfigMap's
// providers name coming from the Secret.
func TestDeliverDeployment(t *testing.T) {
	docs := loadAll(t)
	d := find[*appsv1.Deployment](t, docs, deliverFile)
	pdb := find[*policyv1.PodDisruptionBudget](t, docs, deliverFile)
	svc := find[*corev1.Service](t, docs, deliverFile)
	secret := find[*corev1.Secret](t, docs, secretExample)
	c := workload{pod: &d.Spec.Template}.container()
	if c == nil {
		t.Fatalf("%s: no container %q", deliverFile, containerName)
	}
	cfg, err := clusterConfig(t, docs, literalEnv(c))
	if err != nil {
		t.Fatalf("configmap.yaml with the sender's environment: %v", err)
	}
	podLabels := d.Spec.Template.Labels
	var port *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "http" {
			port = &c.Ports[i]
		}
	}
	portOK := func(target intstr.IntOrString) bool {
		return port != nil && (target.String() == port.Name || target.String() == strconv.Itoa(int(port.ContainerPort)))
	}
	probeOK := func(p *corev1.Probe) bool {
		return p != nil && p.HTTPGet != nil && p.HTTPGet.Path == "/healthz" && portOK(p.HTTPGet.Port)
	}
	replicas := int32(0)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	flags, _ := flagValues(c.Args)

	checks := []struct {
		name string
		err  error
	}{
		{"two replicas", check(replicas == 2, "replicas %d, want 2: claims share the outbox, and one sender keeps going while the other is moved", replicas)},
		{"runs `loanremind deliver` long-running", check(len(c.Args) > 0 && c.Args[0] == "deliver" && !hasFlag(flags, "once") && !hasFlag(flags, "shard"),
			"args %q: want deliver without --once (a Deployment's process must not exit) and without --shard (replicas share the outbox by claims)", c.Args)},
		{"rollout keeps a sender up", func() error {
			s := d.Spec.Strategy
			if s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil || s.RollingUpdate.MaxUnavailable == nil {
				return fmt.Errorf("strategy %+v: want RollingUpdate with maxUnavailable set", s)
			}
			if u := s.RollingUpdate.MaxUnavailable; u.IntValue() != 0 && u.String() != "0%" {
				return fmt.Errorf("maxUnavailable %s, want 0: a rollout would stop sending", u.String())
			}
			return nil
		}()},
		{"port of /metrics and the receipts", check(port != nil && port.ContainerPort == 9090, "want a container port named http, 9090")},
		{"listens on that port", func() error {
			listen := flags["listen"]
			if listen == "" {
				listen = cfg.Delivery.Listen
			}
			if _, p, err := net.SplitHostPort(listen); err != nil || port == nil || p != strconv.Itoa(int(port.ContainerPort)) {
				return fmt.Errorf("the sender listens on %q (--listen, or delivery.listen), not on the http port", listen)
			}
			return nil
		}()},
		{"termination grace covers delivery.grace_period", func() error {
			g := d.Spec.Template.Spec.TerminationGracePeriodSeconds
			if g == nil || time.Duration(*g)*time.Second <= cfg.Delivery.GracePeriod.Std() {
				return fmt.Errorf("terminationGracePeriodSeconds must be longer than delivery.grace_period (%s): calls in flight get that long to finish and be recorded", cfg.Delivery.GracePeriod)
			}
			return nil
		}()},
		{"readiness probe", check(probeOK(c.ReadinessProbe), "readinessProbe must GET /healthz on the http port")},
		{"liveness probe", check(probeOK(c.LivenessProbe), "livenessProbe must GET /healthz on the http port")},
		{"selector matches the pod", check(d.Spec.Selector != nil && len(d.Spec.Selector.MatchLabels) > 0 && subset(d.Spec.Selector.MatchLabels, podLabels),
			"selector %v does not select the pod's labels %v", d.Spec.Selector, podLabels)},
		{"replicas on different nodes", func() error {
			for _, s := range d.Spec.Template.Spec.TopologySpreadConstraints {
				if s.TopologyKey == "kubernetes.io/hostname" && s.LabelSelector != nil && subset(s.LabelSelector.MatchLabels, podLabels) {
					return nil
				}
			}
			return errors.New("want a topologySpreadConstraint on kubernetes.io/hostname selecting the sender's pods")
		}()},
		{"PodDisruptionBudget keeps one", func() error {
			s := pdb.Spec
			if s.Selector == nil || len(s.Selector.MatchLabels) == 0 || !subset(s.Selector.MatchLabels, podLabels) {
				return fmt.Errorf("selector %v does not select the sender's pods %v", s.Selector, podLabels)
			}
			switch {
			case s.MinAvailable != nil && s.MinAvailable.Type == intstr.Int && s.MinAvailable.IntVal >= 1 && s.MinAvailable.IntVal < replicas:
			case s.MaxUnavailable != nil && s.MaxUnavailable.Type == intstr.Int && s.MaxUnavailable.IntVal >= 1 && s.MaxUnavailable.IntVal < replicas:
			default:
				return fmt.Errorf("minAvailable %v / maxUnavailable %v: want at least one sender up and a drain still possible (between 1 and %d)", s.MinAvailable, s.MaxUnavailable, replicas-1)
			}
			return nil
		}()},
		{"Service selects the pod", check(len(svc.Spec.Selector) > 0 && subset(svc.Spec.Selector, podLabels), "Service selector %v does not select the pod labels %v", svc.Spec.Selector, podLabels)},
		{"Service exposes the port", check(len(svc.Spec.Ports) == 1 && portOK(svc.Spec.Ports[0].TargetPort),
			"Service ports %v: want one, targeting the container's http port", svc.Spec.Ports)},
		{"scrape annotations", func() error {
			a := d.Spec.Template.Annotations
			if a["prometheus.io/scrape"] != "true" || port == nil || a["prometheus.io/port"] != strconv.Itoa(int(port.ContainerPort)) || a["prometheus.io/path"] != "/metrics" {
				return fmt.Errorf("pod annotations %v: want prometheus.io/scrape \"true\", port the http port, path /metrics", a)
			}
			return nil
		}()},
		{"the ConfigMap routes every channel", check(cfg.Delivery.Routes["sms"] != "" && cfg.Delivery.Routes["email"] != "",
			"configmap.yaml's delivery.routes %v: want a provider for sms and for email", cfg.Delivery.Routes)},
		{"every provider credential from the Secret", func() error {
			names := cfg.Delivery.EnvVars()
			if len(names) == 0 {
				return errors.New("configmap.yaml's providers name no credential variable")
			}
			for _, name := range names {
				e := envVar(c, name)
				if e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					return fmt.Errorf("env %s (named by a provider in configmap.yaml) must come from a secretKeyRef: without it deliver exits 2", name)
				}
				ref := e.ValueFrom.SecretKeyRef
				if ref.Optional != nil && *ref.Optional {
					return fmt.Errorf("env %s: the secretKeyRef must not be optional", name)
				}
				if _, ok := secret.StringData[ref.Key]; ref.Name != secretName || !ok {
					return fmt.Errorf("env %s comes from Secret %q key %q, which %s does not document", name, ref.Name, ref.Key, secretExample)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !slices.Contains(names, e.Name) &&
					!slices.Contains([]string{"DATABASE_URL", "LOANREMIND_AUDIT_HMAC_KEY"}, e.Name) {
					return fmt.Errorf("env %s comes from the Secret but no provider in configmap.yaml names it", e.Name)
				}
			}
			return nil
		}()},
		{"POD_NAME from the downward API", check(func() bool {
			e := envVar(c, "POD_NAME")
			return e != nil && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
		}(), "env POD_NAME must come from fieldRef metadata.name")},
	}
	for _, c := range checks {
		if c.err != nil {
			t.Errorf("%s: %s: %v", deliverFile, c.name, c.err)
		}
	}
}
