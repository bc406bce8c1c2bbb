package kubernetes

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // time zones checked the same on every machine

	"github.com/robfig/cron/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/loanremind/loanremind/config"
)

const (
	namespace     = "loanremind"
	appName       = "loanremind"
	nameLabel     = "app.kubernetes.io/name"
	componentKey  = "app.kubernetes.io/component"
	containerName = "loanremind" // podFailurePolicy rules name it
	secretName    = "loanremind"
	configMapName = "loanremind-config"
	configKey     = "loanremind.yaml"
	nonRootID     = 65532 // the distroless nonroot user and group of the image
	exampleConfig = "../loanremind.example.yaml"
	secretExample = "secret.example.yaml"
	kustomizeFile = "kustomization.yaml"
	exitBadConfig = 2 // loanremind's exit code for bad usage or configuration
)

// handApplied are the manifests kustomization.yaml leaves out on purpose.
var handApplied = map[string]string{
	secretExample:               "placeholders only; the real Secret is created out of band",
	"backfill-indexed-job.yaml": "a one-off, edited and created by hand",
	"serve-deployment.yaml":     "the alternative to the CronJob: swapped in by hand",
	"console-deployment.yaml":   "applied by hand once the ConfigMap names the lender's identity provider",
}

// wantWorkloads are the workloads operators rely on, and the loanremind
// command each runs.
var wantWorkloads = []struct {
	file, kind, command string
}{
	{"cronjob.yaml", "CronJob", "run"},
	{"migrate-job.yaml", "Job", "migrate"},
	{"backfill-indexed-job.yaml", "Job", "backfill"},
	{"serve-deployment.yaml", "Deployment", "serve"},
	{"console-deployment.yaml", "Deployment", "console"},
	{"deliver-deployment.yaml", "Deployment", "deliver"},
}

// commands are the loanremind commands a workload may run.
var commands = []string{"migrate", "run", "backfill", "serve", "console", "deliver"}

// readsConfig reports whether a command loads loanremind.yaml and writes
// audit rows (migrate does neither).
func readsConfig(command string) bool { return command != "migrate" }

// wantDatabaseKey is the Secret key of each command's DATABASE_URL: migrate
// needs the schema owner, the console the role granted loanremind_console,
// deliver the role granted loanremind_sender,
// everything else the role granted loanremind_job.
func wantDatabaseKey(command string) string {
	switch command {
	case "migrate":
		return "migrate-database-url"
	case "console":
		return "console-database-url"
	case "deliver":
		return "deliver-database-url"
	}
	return "database-url"
}

// workload is a pod template and, for Jobs and CronJobs, its Job spec.
type workload struct {
	doc  document
	name string
	pod  *corev1.PodTemplateSpec
	job  *batchv1.JobSpec // nil for a Deployment
}

func (w workload) String() string { return fmt.Sprintf("%s %s (%s)", w.doc.kind, w.name, w.doc.file) }

func (w workload) container() *corev1.Container {
	for i := range w.pod.Spec.Containers {
		if w.pod.Spec.Containers[i].Name == containerName {
			return &w.pod.Spec.Containers[i]
		}
	}
	return nil
}

func (w workload) command() string {
	if c := w.container(); c != nil && len(c.Args) > 0 {
		return c.Args[0]
	}
	return ""
}

func workloads(docs []document) []workload {
	var out []workload
	for _, d := range docs {
		switch o := d.obj.(type) {
		case *batchv1.CronJob:
			out = append(out, workload{d, objectName(o.ObjectMeta.Name, o.GenerateName), &o.Spec.JobTemplate.Spec.Template, &o.Spec.JobTemplate.Spec})
		case *batchv1.Job:
			out = append(out, workload{d, objectName(o.Name, o.GenerateName), &o.Spec.Template, &o.Spec})
		case *appsv1.Deployment:
			out = append(out, workload{d, objectName(o.Name, o.GenerateName), &o.Spec.Template, nil})
		}
	}
	return out
}

func objectName(name, generateName string) string {
	if name == "" {
		return generateName + "*"
	}
	return name
}

// find returns the one object of type T in file.
func find[T any](t *testing.T, docs []document, file string) T {
	t.Helper()
	var found []T
	for _, d := range docs {
		if o, ok := d.obj.(T); ok && d.file == file {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%s: want exactly one %T, found %d", file, zero, len(found))
	}
	return found[0]
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// literalEnv is the container's environment as far as the manifest fixes it
// (values from Secrets and the downward API left out).
func literalEnv(c *corev1.Container) func(string) string {
	return func(name string) string {
		if e := envVar(c, name); e != nil && e.ValueFrom == nil {
			return e.Value
		}
		return ""
	}
}

// knownEnv are the variables loanremind reads, besides config.EnvVars().
var knownEnv = []string{"LOANREMIND_CONFIG", "DATABASE_URL", "LOANREMIND_SHARD_COUNT", "JOB_COMPLETION_INDEX", "LOANREMIND_ACTOR", "POD_NAME",
	"LOANREMIND_CONSOLE_OIDC_SECRET"}

func isKnownEnv(name string) bool {
	return slices.Contains(knownEnv, name) || slices.Contains(config.EnvVars(), name)
}

// clusterConfig is the ConfigMap's loanremind.yaml, loaded as the binary
// loads it, with env as the environment.
func clusterConfig(t *testing.T, docs []document, env func(string) string) (*config.Config, error) {
	t.Helper()
	cm := find[*corev1.ConfigMap](t, docs, "configmap.yaml")
	path := filepath.Join(t.TempDir(), configKey)
	if err := os.WriteFile(path, []byte(cm.Data[configKey]), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(path, env)
}

func loadKustomization(t *testing.T, docs []document) *kustomization {
	t.Helper()
	return find[*kustomization](t, docs, kustomizeFile)
}

// releaseImage is the image kustomization.yaml deploys.
func releaseImage(k *kustomization) (name, image string, err error) {
	if len(k.Images) != 1 {
		return "", "", fmt.Errorf("%s: want one entry in images (the loanremind image), found %d", kustomizeFile, len(k.Images))
	}
	img := k.Images[0]
	repo := cmp.Or(img.NewName, img.Name)
	switch {
	case img.Digest != "":
		return img.Name, repo + "@" + img.Digest, nil
	case img.NewTag == "" || img.NewTag == "latest":
		return "", "", fmt.Errorf("%s: images[0].newTag is %q: pin a release tag or a digest", kustomizeFile, img.NewTag)
	}
	return img.Name, repo + ":" + img.NewTag, nil
}

// imageRepository strips the tag and digest from an image reference.
func imageRepository(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

func TestObjectMetadata(t *testing.T) {
	for _, d := range loadAll(t) {
		if d.kind == "Kustomization" {
			continue
		}
		t.Run(d.String(), func(t *testing.T) {
			m := metaOf(d.obj)
			if m.name == "" && m.generateName == "" {
				t.Error("metadata.name is empty")
			}
			if got := m.labels[nameLabel]; got != appName {
				t.Errorf("label %s is %q, want %q", nameLabel, got, appName)
			}
			wantNS := namespace // so that `kubectl apply -f` of one file lands in the right place
			if d.kind == "Namespace" {
				wantNS = ""
				if m.name != namespace {
					t.Errorf("Namespace is named %q, want %q", m.name, namespace)
				}
			}
			if m.namespace != wantNS {
				t.Errorf("metadata.namespace is %q, want %q", m.namespace, wantNS)
			}
		})
	}
}

type meta struct {
	name, generateName, namespace string
	labels                        map[string]string
}

func metaOf(obj any) meta {
	var m meta
	switch o := obj.(type) {
	case *corev1.Namespace:
		m = meta{o.Name, o.GenerateName, o.Namespace, o.Labels}
	case *corev1.ConfigMap:
		m = meta{o.Name, o.GenerateName, o.Namespace, o.Labels}
	case *corev1.Secret:
		m = meta{o.Name, o.GenerateName, o.Namespace, o.Labels}
	case *corev1.Service:
		m = meta{o.Name, o.GenerateName, o.Namespace, o.Labels}
	case *appsv1.Deployment:
		m = meta{o.Name, o.GenerateName, o.Namespace, o.Labels}
	case *policyv1.PodDisruptionBudget:
		m = meta{o.Name, o.GenerateName, o.Namespace, o.Labels}
	case *batchv1.Job:
		m = meta{o.Name, o.GenerateName, o.Namespace, o.Labels}
	case *batchv1.CronJob:
		m = meta{o.Name, o.GenerateName, o.Namespace, o.Labels}
	}
	return m
}

func TestExpectedWorkloadsExist(t *testing.T) {
	ws := workloads(loadAll(t))
	for _, want := range wantWorkloads {
		t.Run(want.file, func(t *testing.T) {
			var got []string
			for _, w := range ws {
				if w.doc.file == want.file && w.doc.kind == want.kind {
					got = append(got, w.command())
				}
			}
			if !slices.Equal(got, []string{want.command}) {
				t.Errorf("want one %s running `loanremind %s`, found commands %q", want.kind, want.command, got)
			}
		})
	}
}

// TestPodTemplates checks what every workload's pod must be, whatever it
// runs.
func TestPodTemplates(t *testing.T) {
	docs := loadAll(t)
	k := loadKustomization(t, docs)
	secret := find[*corev1.Secret](t, docs, secretExample)
	cm := find[*corev1.ConfigMap](t, docs, "configmap.yaml")
	cfg, err := clusterConfig(t, docs, func(string) string { return "" })
	if err != nil {
		t.Fatalf("configmap.yaml: %s is not a valid loanremind config: %v", configKey, err)
	}
	grace := cfg.Serve.GracePeriod.Std()

	checks := []struct {
		name  string
		check func(w workload, c *corev1.Container) error
	}{
		{"args start with a loanremind command", func(w workload, c *corev1.Container) error {
			if len(c.Command) > 0 {
				return fmt.Errorf("command is %q: leave it unset, the image's ENTRYPOINT is /usr/local/bin/loanremind, and put the loanremind command in args", c.Command)
			}
			if len(c.Args) == 0 || !slices.Contains(commands, c.Args[0]) {
				return fmt.Errorf("args %q: want a loanremind command first, one of %q", c.Args, commands)
			}
			return nil
		}},
		{"restartPolicy", func(w workload, c *corev1.Container) error {
			want := corev1.RestartPolicyNever // a failed run is retried by the Job, in a new pod
			if w.job == nil {
				want = corev1.RestartPolicyAlways
			}
			if got := w.pod.Spec.RestartPolicy; got != want && (got != "" || want != corev1.RestartPolicyAlways) {
				return fmt.Errorf("restartPolicy is %q, want %q", got, want)
			}
			return nil
		}},
		{"pod runs as the image's non-root user", func(w workload, c *corev1.Container) error {
			sc := w.pod.Spec.SecurityContext
			switch {
			case sc == nil:
				return errors.New("pod securityContext is missing")
			case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
				return errors.New("securityContext.runAsNonRoot must be true")
			case sc.RunAsUser == nil || *sc.RunAsUser != nonRootID,
				sc.RunAsGroup == nil || *sc.RunAsGroup != nonRootID,
				sc.FSGroup == nil || *sc.FSGroup != nonRootID:
				return fmt.Errorf("securityContext runAsUser, runAsGroup and fsGroup must be %d (distroless nonroot)", nonRootID)
			case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
				return errors.New("securityContext.seccompProfile.type must be RuntimeDefault")
			}
			return nil
		}},
		{"container is locked down", func(w workload, c *corev1.Container) error {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				return errors.New("container securityContext is missing")
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				return errors.New("securityContext.readOnlyRootFilesystem must be true")
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				return errors.New("securityContext.allowPrivilegeEscalation must be false")
			case sc.Privileged != nil && *sc.Privileged:
				return errors.New("securityContext.privileged must not be true")
			case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
				return errors.New("securityContext.capabilities must drop [ALL] and add none")
			}
			return nil
		}},
		{"no Kubernetes API token, no service links", func(w workload, c *corev1.Container) error {
			s := w.pod.Spec
			if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
				return errors.New("automountServiceAccountToken must be false: loanremind does not call the Kubernetes API")
			}
			if s.EnableServiceLinks == nil || *s.EnableServiceLinks {
				return errors.New("enableServiceLinks must be false: a Service in the namespace would inject LOANREMIND_* variables")
			}
			return nil
		}},
		{"resource requests and limits", func(w workload, c *corev1.Container) error {
			req, lim := c.Resources.Requests, c.Resources.Limits
			var problems []string
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				rq, okR := req[r]
				lm, okL := lim[r]
				switch {
				case !okR || rq.IsZero():
					problems = append(problems, fmt.Sprintf("requests.%s is not set", r))
				case !okL || lm.IsZero():
					problems = append(problems, fmt.Sprintf("limits.%s is not set", r))
				case rq.Cmp(lm) > 0:
					problems = append(problems, fmt.Sprintf("requests.%s %s is above limits.%s %s", r, rq.String(), r, lm.String()))
				}
			}
			if len(problems) > 0 {
				return errors.New(strings.Join(problems, "; "))
			}
			return nil
		}},
		{"termination grace covers serve.grace_period", func(w workload, c *corev1.Container) error {
			g := w.pod.Spec.TerminationGracePeriodSeconds
			if g == nil || time.Duration(*g)*time.Second <= grace {
				return fmt.Errorf("terminationGracePeriodSeconds must be set and longer than the config's serve.grace_period (%s): after SIGTERM the open batch gets that long to commit", grace)
			}
			return nil
		}},
		{"image is the release image", func(w workload, c *corev1.Container) error {
			name, image, err := releaseImage(k)
			if err != nil {
				return err
			}
			if _, manual := handApplied[w.doc.file]; manual {
				if c.Image != image {
					return fmt.Errorf("image is %q; this file is applied by hand, so it must name the image kustomization.yaml deploys, %q", c.Image, image)
				}
				return nil
			}
			if imageRepository(c.Image) != name {
				return fmt.Errorf("image %q is not %q, the name kustomization.yaml's images entry rewrites", c.Image, name)
			}
			return nil
		}},
		{"environment variables are ones loanremind reads", func(w workload, c *corev1.Container) error {
			seen := map[string]bool{}
			for _, e := range c.Env {
				if seen[e.Name] {
					return fmt.Errorf("env %s is set twice", e.Name)
				}
				seen[e.Name] = true
				if !isKnownEnv(e.Name) && !slices.Contains(cfg.Delivery.EnvVars(), e.Name) {
					return fmt.Errorf("env %s is not a variable loanremind reads (a typo?); known: %q, %q and the delivery providers' %q",
						e.Name, knownEnv, config.EnvVars(), cfg.Delivery.EnvVars())
				}
				if e.Name == "JOB_COMPLETION_INDEX" {
					return errors.New("env JOB_COMPLETION_INDEX must not be set: an Indexed Job sets it per pod")
				}
			}
			return nil
		}},
		{"secrets come from the Secret", func(w workload, c *corev1.Container) error {
			want := map[string]string{"DATABASE_URL": wantDatabaseKey(w.command())}
			if readsConfig(w.command()) {
				want["LOANREMIND_AUDIT_HMAC_KEY"] = "audit-hmac-key"
			}
			for _, name := range sortedKeys(want) {
				e := envVar(c, name)
				if e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					return fmt.Errorf("env %s must come from a secretKeyRef (Secret %q, key %q)", name, secretName, want[name])
				}
				ref := e.ValueFrom.SecretKeyRef
				if ref.Name != secretName || ref.Key != want[name] {
					return fmt.Errorf("env %s comes from Secret %q key %q, want Secret %q key %q", name, ref.Name, ref.Key, secretName, want[name])
				}
				if ref.Optional != nil && *ref.Optional {
					return fmt.Errorf("env %s: the secretKeyRef must not be optional: a missing key should stop the pod, not run without it", name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				if _, ok := secret.StringData[ref.Key]; ref.Name != secretName || !ok {
					return fmt.Errorf("env %s refers to Secret %q key %q, which %s does not document", e.Name, ref.Name, ref.Key, secretExample)
				}
			}
			return nil
		}},
		{"config from the mounted ConfigMap", func(w workload, c *corev1.Container) error {
			if !readsConfig(w.command()) {
				return nil
			}
			e := envVar(c, "LOANREMIND_CONFIG")
			if e == nil || e.ValueFrom != nil || e.Value == "" {
				return errors.New("env LOANREMIND_CONFIG must be set to the path of the mounted loanremind.yaml")
			}
			dir, key := filepath.Dir(e.Value), filepath.Base(e.Value)
			for _, m := range c.VolumeMounts {
				if m.MountPath != dir {
					continue
				}
				if !m.ReadOnly {
					return fmt.Errorf("volumeMount %s at %s must be readOnly", m.Name, m.MountPath)
				}
				if m.SubPath != "" {
					return fmt.Errorf("volumeMount %s uses subPath: mount the whole ConfigMap so edits reach running pods", m.Name)
				}
				for _, v := range w.pod.Spec.Volumes {
					if v.Name != m.Name {
						continue
					}
					if v.ConfigMap == nil || v.ConfigMap.Name != cm.Name {
						return fmt.Errorf("volume %s mounted at %s is not ConfigMap %q", v.Name, dir, cm.Name)
					}
					if _, ok := cm.Data[key]; !ok {
						return fmt.Errorf("LOANREMIND_CONFIG=%s: ConfigMap %q has no key %q", e.Value, cm.Name, key)
					}
					if len(v.ConfigMap.Items) > 0 {
						return fmt.Errorf("volume %s lists items: mount every key of the ConfigMap", v.Name)
					}
					return nil
				}
				return fmt.Errorf("volumeMount %s has no volume", m.Name)
			}
			return fmt.Errorf("LOANREMIND_CONFIG=%s, but nothing is mounted at %s", e.Value, dir)
		}},
		{"settings load as loanremind loads them", func(w workload, c *corev1.Container) error {
			if !readsConfig(w.command()) {
				return nil
			}
			if got := literalEnv(c)("LOANREMIND_LOG_FORMAT"); got != "json" {
				return fmt.Errorf("env LOANREMIND_LOG_FORMAT is %q, want json", got)
			}
			if _, err := clusterConfig(t, docs, literalEnv(c)); err != nil {
				return fmt.Errorf("the ConfigMap with this container's environment is not a valid configuration (the pod would exit 2): %v", err)
			}
			return nil
		}},
		{"retry and time limits", func(w workload, c *corev1.Container) error {
			if w.job == nil {
				return nil
			}
			j := w.job
			switch {
			case j.BackoffLimit == nil && j.BackoffLimitPerIndex == nil:
				return errors.New("backoffLimit (or backoffLimitPerIndex) must be set: the default is 6 retries")
			case j.ActiveDeadlineSeconds == nil || *j.ActiveDeadlineSeconds <= 0:
				return errors.New("activeDeadlineSeconds must be set: a stuck run must not run forever")
			case j.TTLSecondsAfterFinished == nil:
				return errors.New("ttlSecondsAfterFinished must be set: finished Jobs and pods must not pile up")
			}
			return nil
		}},
		{"bad configuration is not retried", func(w workload, c *corev1.Container) error {
			if w.job == nil {
				return nil
			}
			if p := w.job.PodFailurePolicy; p != nil {
				for _, r := range p.Rules {
					ec := r.OnExitCodes
					if r.Action == batchv1.PodFailurePolicyActionFailJob && ec != nil &&
						ec.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && slices.Contains(ec.Values, exitBadConfig) &&
						(ec.ContainerName == nil || *ec.ContainerName == containerName) {
						return nil
					}
				}
			}
			return fmt.Errorf("podFailurePolicy must fail the Job on exit code %d (bad usage or configuration): retries cannot fix it", exitBadConfig)
		}},
		{"pod labels", func(w workload, c *corev1.Container) error {
			l := w.pod.Labels
			if l[nameLabel] != appName || l[componentKey] == "" {
				return fmt.Errorf("pod template labels %v: want %s=%s and a %s", l, nameLabel, appName, componentKey)
			}
			return nil
		}},
	}

	for _, w := range workloads(docs) {
		t.Run(w.String(), func(t *testing.T) {
			if n := len(w.pod.Spec.Containers); n != 1 || w.container() == nil || len(w.pod.Spec.InitContainers) > 0 {
				t.Fatalf("want exactly one container, named %q, and no init containers; found %d", containerName, n)
			}
			c := w.container()
			for _, check := range checks {
				t.Run(check.name, func(t *testing.T) {
					if err := check.check(w, c); err != nil {
						t.Errorf("%s: %v", check.name, err)
					}
				})
			}
		})
	}
}

func TestCronJob(t *testing.T) {
	docs := loadAll(t)
	cj := find[*batchv1.CronJob](t, docs, "cronjob.yaml")
	s := cj.Spec
	j := s.JobTemplate.Spec
	c := workload{pod: &j.Template}.container()
	if c == nil {
		t.Fatalf("cronjob.yaml: no container %q", containerName)
	}
	cfg, err := clusterConfig(t, docs, func(string) string { return "" })
	if err != nil {
		t.Fatalf("configmap.yaml: %v", err)
	}

	sched, schedErr := cron.ParseStandard(s.Schedule)
	var interval time.Duration
	if schedErr == nil {
		first := sched.Next(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
		interval = sched.Next(first).Sub(first)
	}

	checks := []struct {
		name string
		err  error
	}{
		{"name fits Job names", check(len(cj.Name) <= 52, "name %q is longer than 52 characters: Kubernetes appends 11 to name each Job", cj.Name)},
		{"schedule parses", schedErr},
		{"schedule has no zone", check(!strings.Contains(s.Schedule, "TZ"), "schedule %q: set the zone in timeZone, not CRON_TZ/TZ (the API rejects both)", s.Schedule)},
		{"timeZone is set and valid", func() error {
			if s.TimeZone == nil || *s.TimeZone == "" {
				return errors.New("timeZone is not set: the schedule would follow the controller's zone")
			}
			_, err := time.LoadLocation(*s.TimeZone)
			return err
		}()},
		{"config schedule matches", check(s.TimeZone != nil && cfg.Schedule == "CRON_TZ="+*s.TimeZone+" "+s.Schedule,
			"configmap.yaml schedule is %q, want %q: backfills run each day as of the config's schedule, so it must be the CronJob's",
			cfg.Schedule, "CRON_TZ="+deref(s.TimeZone)+" "+s.Schedule)},
		{"concurrencyPolicy is Forbid", check(s.ConcurrencyPolicy == batchv1.ForbidConcurrent, "concurrencyPolicy is %q, want Forbid: one run at a time", s.ConcurrencyPolicy)},
		{"startingDeadlineSeconds", check(s.StartingDeadlineSeconds != nil && *s.StartingDeadlineSeconds >= 10 && (interval == 0 || time.Duration(*s.StartingDeadlineSeconds)*time.Second < interval),
			"startingDeadlineSeconds %v: want at least 10 (the controller's resolution) and less than the schedule's interval %s", derefInt(s.StartingDeadlineSeconds), interval)},
		{"history limits", check(s.SuccessfulJobsHistoryLimit != nil && s.FailedJobsHistoryLimit != nil && *s.FailedJobsHistoryLimit > 0,
			"successfulJobsHistoryLimit and failedJobsHistoryLimit must be set, and failed Jobs kept (> 0) for their logs")},
		{"not suspended", check(s.Suspend == nil || !*s.Suspend, "suspend is true: the CronJob would never run")},
		{"backoffLimit", check(j.BackoffLimit != nil && *j.BackoffLimit >= 1, "jobTemplate backoffLimit %v: want at least 1 retry for a failed run (exit 1)", derefInt(j.BackoffLimit))},
		{"activeDeadlineSeconds below the interval", check(j.ActiveDeadlineSeconds != nil && interval > 0 && time.Duration(*j.ActiveDeadlineSeconds)*time.Second < interval,
			"jobTemplate activeDeadlineSeconds %v: want it set and below the schedule's interval %s, so a stuck run ends before the next is due", derefInt(j.ActiveDeadlineSeconds), interval)},
		{"runs `loanremind run`", check(c != nil && len(c.Args) > 0 && c.Args[0] == "run", "container args must start with run")},
		{"POD_NAME from the downward API", func() error {
			e := envVar(c, "POD_NAME")
			if e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
				return errors.New("env POD_NAME must come from fieldRef metadata.name: the run records it as its actor")
			}
			return nil
		}()},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.err != nil {
				t.Errorf("cronjob.yaml: %s: %v", c.name, c.err)
			}
		})
	}
}

func TestMigrateJob(t *testing.T) {
	job := find[*batchv1.Job](t, loadAll(t), "migrate-job.yaml")
	c := workload{pod: &job.Spec.Template}.container()
	if c == nil {
		t.Fatalf("migrate-job.yaml: no container %q", containerName)
	}
	if !slices.Equal(c.Args, []string{"migrate"}) {
		t.Errorf("migrate-job.yaml: args %q, want [migrate]", c.Args)
	}
	if job.Spec.BackoffLimit == nil {
		t.Error("migrate-job.yaml: backoffLimit is not set")
	}
	if e := envVar(c, "DATABASE_URL"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Key != "migrate-database-url" {
		t.Error("migrate-job.yaml: DATABASE_URL must come from the Secret key migrate-database-url (the schema owner)")
	}
}

func TestIndexedBackfillJob(t *testing.T) {
	job := find[*batchv1.Job](t, loadAll(t), "backfill-indexed-job.yaml")
	s := job.Spec
	c := workload{pod: &s.Template}.container()
	if c == nil {
		t.Fatalf("backfill-indexed-job.yaml: no container %q", containerName)
	}
	flags, err := flagValues(c.Args)
	if err != nil {
		t.Fatalf("backfill-indexed-job.yaml: args %q: %v", c.Args, err)
	}
	from, errFrom := time.Parse(time.DateOnly, flags["from"])
	to, errTo := time.Parse(time.DateOnly, flags["to"])

	checks := []struct {
		name string
		err  error
	}{
		{"completionMode Indexed", check(s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion, "completionMode must be Indexed: each pod's JOB_COMPLETION_INDEX is its shard")},
		{"completions set", check(s.Completions != nil && *s.Completions >= 1, "completions must be set")},
		{"parallelism within completions", check(s.Parallelism != nil && s.Completions != nil && *s.Parallelism >= 1 && *s.Parallelism <= *s.Completions,
			"parallelism %v must be set and at most completions %v", derefInt(s.Parallelism), derefInt(s.Completions))},
		{"LOANREMIND_SHARD_COUNT equals completions", func() error {
			got := literalEnv(c)("LOANREMIND_SHARD_COUNT")
			if s.Completions == nil || got != strconv.Itoa(int(*s.Completions)) {
				return fmt.Errorf("LOANREMIND_SHARD_COUNT is %q, want completions (%v): otherwise borrowers are left out or handled twice", got, derefInt(s.Completions))
			}
			return nil
		}()},
		{"no --shard flag", check(!hasFlag(flags, "shard"), "args set --shard, which overrides JOB_COMPLETION_INDEX: every pod would run the same shard")},
		{"runs `loanremind backfill`", check(len(c.Args) > 0 && c.Args[0] == "backfill", "args %q must start with backfill", c.Args)},
		{"--from is a date", errFrom},
		{"--to is a date", errTo},
		{"--from is not after --to", check(errFrom != nil || errTo != nil || !from.After(to), "--from %s is after --to %s", flags["from"], flags["to"])},
		{"--actor and --reason", check(flags["actor"] != "" && flags["reason"] != "", "--actor and --reason are required: the run records say who backfilled and why")},
		{"a new Job each time", check(job.GenerateName != "" && job.Name == "", "use metadata.generateName (and kubectl create), so each backfill is a new Job")},
		{"retries per index", check(s.BackoffLimitPerIndex != nil, "backoffLimitPerIndex should be set: one failing shard must not use up the others' retries")},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.err != nil {
				t.Errorf("backfill-indexed-job.yaml: %s: %v", c.name, c.err)
			}
		})
	}
}

// flagValues reads "--name value" and "--name=value" pairs after the
// command; a flag without a value (--dry-run) maps to "true".
func flagValues(args []string) (map[string]string, error) {
	out := map[string]string{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("%q is not a flag", a)
		}
		name := strings.TrimLeft(a, "-")
		if n, v, ok := strings.Cut(name, "="); ok {
			out[n] = v
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out[name] = args[i+1]
			i++
			continue
		}
		out[name] = "true"
	}
	return out, nil
}

func hasFlag(flags map[string]string, name string) bool {
	_, ok := flags[name]
	return ok
}

func TestServeDeployment(t *testing.T) {
	docs := loadAll(t)
	d := find[*appsv1.Deployment](t, docs, "serve-deployment.yaml")
	svc := find[*corev1.Service](t, docs, "serve-deployment.yaml")
	c := workload{pod: &d.Spec.Template}.container()
	if c == nil {
		t.Fatalf("serve-deployment.yaml: no container %q", containerName)
	}
	flags, err := flagValues(c.Args)
	if err != nil {
		t.Fatalf("serve-deployment.yaml: args %q: %v", c.Args, err)
	}
	var port *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "metrics" {
			port = &c.Ports[i]
		}
	}
	_, listenPort, _ := net.SplitHostPort(flags["listen"])
	podLabels := d.Spec.Template.Labels

	// portOK reports whether a probe's or Service's target names the port.
	portOK := func(target string) bool {
		return port != nil && (target == port.Name || target == strconv.Itoa(int(port.ContainerPort)))
	}
	probeOK := func(p *corev1.Probe) bool {
		return p != nil && p.HTTPGet != nil && p.HTTPGet.Path == "/healthz" && portOK(p.HTTPGet.Port.String())
	}

	checks := []struct {
		name string
		err  error
	}{
		{"one replica", check(d.Spec.Replicas != nil && *d.Spec.Replicas == 1, "replicas %v, want 1: one scheduler", derefInt(d.Spec.Replicas))},
		{"strategy Recreate", check(d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType, "strategy %q, want Recreate: never two schedulers during a rollout", d.Spec.Strategy.Type)},
		{"runs `loanremind serve`", check(len(c.Args) > 0 && c.Args[0] == "serve", "args %q must start with serve", c.Args)},
		{"metrics port", check(port != nil && port.ContainerPort == 9090, "want a container port named metrics, 9090")},
		{"--listen on the metrics port", check(port != nil && listenPort == strconv.Itoa(int(port.ContainerPort)), "--listen %q does not listen on the metrics port", flags["listen"])},
		{"selector matches the pod", check(d.Spec.Selector != nil && len(d.Spec.Selector.MatchLabels) > 0 && subset(d.Spec.Selector.MatchLabels, podLabels),
			"selector %v does not select the pod template's labels %v", d.Spec.Selector, podLabels)},
		{"readiness probe", check(probeOK(c.ReadinessProbe), "readinessProbe must GET /healthz on the metrics port")},
		{"liveness probe", check(probeOK(c.LivenessProbe), "livenessProbe must GET /healthz on the metrics port")},
		{"scrape annotations", func() error {
			a := d.Spec.Template.Annotations
			if a["prometheus.io/scrape"] != "true" || port == nil || a["prometheus.io/port"] != strconv.Itoa(int(port.ContainerPort)) || a["prometheus.io/path"] != "/metrics" {
				return fmt.Errorf("pod annotations %v: want prometheus.io/scrape \"true\", port the metrics port, path /metrics", a)
			}
			return nil
		}()},
		{"POD_NAME from the downward API", check(func() bool {
			e := envVar(c, "POD_NAME")
			return e != nil && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
		}(), "env POD_NAME must come from fieldRef metadata.name")},
		{"Service selects the pod", check(len(svc.Spec.Selector) > 0 && subset(svc.Spec.Selector, podLabels), "Service selector %v does not select the pod labels %v", svc.Spec.Selector, podLabels)},
		{"Service exposes metrics", check(len(svc.Spec.Ports) == 1 && svc.Spec.Ports[0].Name == "metrics" && svc.Spec.Ports[0].Port == 9090 && portOK(svc.Spec.Ports[0].TargetPort.String()),
			"Service ports %v: want one port named metrics, 9090, targeting the container's metrics port", svc.Spec.Ports)},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.err != nil {
				t.Errorf("serve-deployment.yaml: %s: %v", c.name, c.err)
			}
		})
	}
}

// TestConsoleDeployment: the compliance console, one replica behind a
// Service, probed on /healthz, and with the ConfigMap and its Secret
// variables a configuration `loanremind console` serves with (not exit 2).
func TestConsoleDeployment(t *testing.T) {
	docs := loadAll(t)
	const file = "console-deployment.yaml"
	d := find[*appsv1.Deployment](t, docs, file)
	svc := find[*corev1.Service](t, docs, file)
	serve := find[*appsv1.Deployment](t, docs, "serve-deployment.yaml")
	serveSvc := find[*corev1.Service](t, docs, "serve-deployment.yaml")
	c := workload{pod: &d.Spec.Template}.container()
	if c == nil {
		t.Fatalf("%s: no container %q", file, containerName)
	}
	flags, err := flagValues(c.Args)
	if err != nil {
		t.Fatalf("%s: args %q: %v", file, c.Args, err)
	}
	var port *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "http" {
			port = &c.Ports[i]
		}
	}
	_, listenPort, _ := net.SplitHostPort(flags["listen"])
	podLabels := d.Spec.Template.Labels
	portOK := func(target string) bool {
		return port != nil && (target == port.Name || target == strconv.Itoa(int(port.ContainerPort)))
	}
	probeOK := func(p *corev1.Probe) bool {
		return p != nil && p.HTTPGet != nil && p.HTTPGet.Path == "/healthz" && portOK(p.HTTPGet.Port.String())
	}
	// The container's environment, the Secret's values standing in for
	// the variables that come from it.
	env := func(name string) string {
		if e := envVar(c, name); e != nil && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return "from-the-secret"
		}
		return literalEnv(c)(name)
	}
	checks := []struct {
		name string
		err  error
	}{
		{"one replica", check(d.Spec.Replicas != nil && *d.Spec.Replicas == 1, "replicas %v, want 1: sessions live in the process", derefInt(d.Spec.Replicas))},
		{"strategy Recreate", check(d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType, "strategy %q, want Recreate: two replicas would split the sessions", d.Spec.Strategy.Type)},
		{"runs `loanremind console`", check(len(c.Args) > 0 && c.Args[0] == "console", "args %q must start with console", c.Args)},
		{"--listen on the http port", check(port != nil && listenPort == strconv.Itoa(int(port.ContainerPort)), "--listen %q does not listen on the container port named http", flags["listen"])},
		{"selector matches the pod", check(d.Spec.Selector != nil && len(d.Spec.Selector.MatchLabels) > 0 && subset(d.Spec.Selector.MatchLabels, podLabels),
			"selector %v does not select the pod template's labels %v", d.Spec.Selector, podLabels)},
		{"readiness probe", check(probeOK(c.ReadinessProbe), "readinessProbe must GET /healthz on the http port (the only page open without signing in)")},
		{"liveness probe", check(probeOK(c.LivenessProbe), "livenessProbe must GET /healthz on the http port")},
		{"read-only root filesystem", check(c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem,
			"the console writes no file: readOnlyRootFilesystem must be true")},
		{"Service selects the pod", check(len(svc.Spec.Selector) > 0 && subset(svc.Spec.Selector, podLabels), "Service selector %v does not select the pod labels %v", svc.Spec.Selector, podLabels)},
		{"Service targets the http port", check(len(svc.Spec.Ports) == 1 && portOK(svc.Spec.Ports[0].TargetPort.String()), "Service ports %v: want one port targeting the container's http port", svc.Spec.Ports)},
		{"Services do not cross", check(!subset(svc.Spec.Selector, serve.Spec.Template.Labels) && !subset(serveSvc.Spec.Selector, podLabels),
			"the console's Service selects the serve pods, or serve's the console's")},
		{"the console would serve", func() error {
			cfg, err := clusterConfig(t, docs, env)
			if err != nil {
				return err
			}
			if cfg.Console.Auth.Mode == config.ConsoleAuthOIDC && !strings.HasPrefix(cfg.Console.BaseURL, "https://") {
				return fmt.Errorf("console.base_url %q: the console is served over TLS (Secure cookies, HSTS)", cfg.Console.BaseURL)
			}
			return cfg.Console.ValidateServing(env)
		}()},
	}
	for _, c := range checks {
		if c.err != nil {
			t.Errorf("%s: %s: %v", file, c.name, c.err)
		}
	}
}

func subset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

func TestConfigMap(t *testing.T) {
	docs := loadAll(t)
	cm := find[*corev1.ConfigMap](t, docs, "configmap.yaml")
	if cm.Name != configMapName {
		t.Errorf("configmap.yaml: name %q, want %q (the pods mount it by that name)", cm.Name, configMapName)
	}
	text, ok := cm.Data[configKey]
	if !ok {
		t.Fatalf("configmap.yaml: no data key %q", configKey)
	}

	example, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var exampleKeys, keys map[string]any
	if err := yaml.Unmarshal(example, &exampleKeys); err != nil {
		t.Fatalf("%s: %v", exampleConfig, err)
	}
	if err := yaml.UnmarshalStrict([]byte(text), &keys); err != nil {
		t.Fatalf("configmap.yaml: %s does not parse as YAML: %v", configKey, err)
	}
	if len(keys) == 0 {
		t.Errorf("configmap.yaml: %s sets no keys", configKey)
	}
	for _, k := range sortedKeys(keys) {
		if _, ok := exampleKeys[k]; !ok {
			t.Errorf("configmap.yaml: %s: top-level key %q is not a key of %s (known: %s)", configKey, k, exampleConfig, strings.Join(sortedKeys(exampleKeys), ", "))
		}
	}
	if _, err := clusterConfig(t, docs, func(string) string { return "" }); err != nil {
		t.Errorf("configmap.yaml: %s is not a valid loanremind configuration (loanremind would exit 2): %v", configKey, err)
	}
}

func TestSecretExample(t *testing.T) {
	docs := loadAll(t)
	s := find[*corev1.Secret](t, docs, secretExample)
	if s.Name != secretName {
		t.Errorf("%s: name %q, want %q", secretExample, s.Name, secretName)
	}
	if len(s.Data) > 0 {
		t.Errorf("%s: use stringData with placeholders, not data", secretExample)
	}
	want := []string{"audit-hmac-key", "console-database-url", "console-oidc-client-secret", "database-url",
		"deliver-database-url", "gateway-secret", "migrate-database-url", "smtp-password"}
	if got := sortedKeys(s.StringData); !slices.Equal(got, want) {
		t.Errorf("%s: keys %q, want %q", secretExample, got, want)
	}
	for k, v := range s.StringData {
		if !strings.Contains(v, "CHANGE_ME") {
			t.Errorf("%s: %s is not an obvious placeholder: it must contain CHANGE_ME", secretExample, k)
		}
	}
	used := map[string]bool{}
	for _, w := range workloads(docs) {
		for _, c := range w.pod.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					used[e.ValueFrom.SecretKeyRef.Key] = true
				}
			}
		}
	}
	for _, k := range want {
		if !used[k] {
			t.Errorf("%s: key %s is used by no workload", secretExample, k)
		}
	}
}

func TestKustomization(t *testing.T) {
	docs := loadAll(t)
	k := loadKustomization(t, docs)

	var wantResources []string
	for _, f := range manifestFiles(t) {
		if _, manual := handApplied[f]; f != kustomizeFile && !manual {
			wantResources = append(wantResources, f)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, wantResources) {
		t.Errorf("%s: resources %q, want every manifest but the hand-applied ones: %q", kustomizeFile, k.Resources, wantResources)
	}
	if len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("%s: resources list a file twice: %q", kustomizeFile, k.Resources)
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(r); err != nil {
			t.Errorf("%s: resource %s: %v", kustomizeFile, r, err)
		}
		if why, manual := handApplied[r]; manual {
			t.Errorf("%s: resource %s must not be listed: %s", kustomizeFile, r, why)
		}
		if strings.Contains(r, "example") {
			t.Errorf("%s: resource %s is an example", kustomizeFile, r)
		}
	}
	if k.Namespace != namespace {
		t.Errorf("%s: namespace %q, want %q", kustomizeFile, k.Namespace, namespace)
	}
	labelled := false
	for _, l := range k.Labels {
		if l.IncludeSelectors {
			t.Errorf("%s: labels must not includeSelectors: a Deployment's selector cannot change once created", kustomizeFile)
		}
		if l.Pairs[nameLabel] == appName {
			labelled = true
		}
	}
	if !labelled {
		t.Errorf("%s: labels must set %s: %s", kustomizeFile, nameLabel, appName)
	}
	if _, _, err := releaseImage(k); err != nil {
		t.Error(err)
	}
}

// TestArgsParseWithTheBinary runs the real binary with each workload's args
// and -h: an unknown flag or a missing value exits 2, which a test of the
// YAML alone cannot see.
func TestArgsParseWithTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/loanremind")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cmd/loanremind with")
	}
	bin := filepath.Join(t.TempDir(), "loanremind")
	build := exec.Command(goTool, "build", "-o", bin, "../../cmd/loanremind")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/loanremind: %v\n%s", err, out)
	}
	for _, w := range workloads(loadAll(t)) {
		t.Run(w.String(), func(t *testing.T) {
			c := w.container()
			args := append(slices.Clone(c.Args), "-h")
			cmd := exec.Command(bin, args...)
			cmd.Env = []string{} // nothing from this machine: -h stops before any is read
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("loanremind %s: %v (exit 2 is an unknown flag or bad value)\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// check returns an error with the message unless ok.
func check(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

func derefInt[T int32 | int64](p *T) string {
	if p == nil {
		return "<unset>"
	}
	return strconv.FormatInt(int64(*p), 10)
}
