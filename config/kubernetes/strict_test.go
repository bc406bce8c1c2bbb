package kubernetes

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// kinds maps every kind the manifests may hold to its apiVersion and the Go
// type it decodes into. A document of any other kind fails the tests.
var kinds = map[string]struct {
	apiVersion string
	newObject  func() any
}{
	"Namespace":           {"v1", func() any { return new(corev1.Namespace) }},
	"ConfigMap":           {"v1", func() any { return new(corev1.ConfigMap) }},
	"Secret":              {"v1", func() any { return new(corev1.Secret) }},
	"Service":             {"v1", func() any { return new(corev1.Service) }},
	"Deployment":          {"apps/v1", func() any { return new(appsv1.Deployment) }},
	"PodDisruptionBudget": {"policy/v1", func() any { return new(policyv1.PodDisruptionBudget) }},
	"Job":                 {"batch/v1", func() any { return new(batchv1.Job) }},
	"CronJob":             {"batch/v1", func() any { return new(batchv1.CronJob) }},
	"Kustomization":       {"kustomize.config.k8s.io/v1beta1", func() any { return new(kustomization) }},
}

// kustomization is the part of kustomize's Kustomization these manifests
// use. It is decoded strictly too: a field kustomize does not know fails, and
// so does one this struct does not list yet (add it here, with a check).
type kustomization struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Namespace  string            `json:"namespace,omitempty"`
	Labels     []kustomizeLabels `json:"labels,omitempty"`
	Resources  []string          `json:"resources,omitempty"`
	Images     []kustomizeImage  `json:"images,omitempty"`
}

type kustomizeLabels struct {
	Pairs            map[string]string `json:"pairs"`
	IncludeSelectors bool              `json:"includeSelectors,omitempty"`
	IncludeTemplates bool              `json:"includeTemplates,omitempty"`
}

type kustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// document is one decoded YAML document of a manifest file.
type document struct {
	file string // base name
	line int    // line of the document's first line in the file
	kind string
	obj  any // a pointer to the type kinds gives for kind
}

func (d document) String() string { return fmt.Sprintf("%s:%d (%s)", d.file, d.line, d.kind) }

// docSeparator is a YAML document marker line.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(?:#.*)?$`)

// splitDocuments splits a YAML stream on its "---" lines and returns each
// document with the line it starts on.
func splitDocuments(data []byte) (docs [][]byte, lines []int) {
	start := 0
	for _, loc := range append(docSeparator.FindAllIndex(data, -1), []int{len(data), len(data)}) {
		docs = append(docs, data[start:loc[0]])
		lines = append(lines, 1+bytes.Count(data[:start], []byte("\n")))
		start = loc[1]
		if start < len(data) && data[start] == '\n' {
			start++
		}
	}
	return docs, lines
}

// decodeDocument decodes one YAML document strictly into the type its kind
// names. empty reports a document with nothing but comments.
func decodeDocument(doc []byte) (kind string, obj any, empty bool, err error) {
	// YAML to JSON as kubectl does it (YAML 1.1 scalars, no target type: a
	// number stays a number), failing on duplicate keys.
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return "", nil, false, fmt.Errorf("YAML: %w", err)
	}
	if s := string(bytes.TrimSpace(j)); s == "null" || s == "" {
		return "", nil, true, nil
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(j, &head); err != nil {
		return "", nil, false, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	k, ok := kinds[head.Kind]
	if !ok {
		known := make([]string, 0, len(kinds))
		for name := range kinds {
			known = append(known, name)
		}
		slices.Sort(known)
		return head.Kind, nil, false, fmt.Errorf("kind %q is not one the tests know (%s): add it to kinds in strict_test.go", head.Kind, strings.Join(known, ", "))
	}
	if head.APIVersion != k.apiVersion {
		return head.Kind, nil, false, fmt.Errorf("kind %s: apiVersion is %q, want %q", head.Kind, head.APIVersion, k.apiVersion)
	}
	obj = k.newObject()
	if err := decodeJSONStrict(j, obj); err != nil {
		return head.Kind, nil, false, fmt.Errorf("kind %s: %w", head.Kind, err)
	}
	return head.Kind, obj, false, nil
}

// decodeJSONStrict decodes j into obj, failing on any field obj's type does
// not have under exactly that name. encoding/json alone matches field names
// case-insensitively ("timezone" would set timeZone) where the API server
// does not, so every key is first checked against the exact JSON names.
func decodeJSONStrict(j []byte, obj any) error {
	var tree any
	if err := json.Unmarshal(j, &tree); err != nil {
		return err
	}
	if problems := exactFields("", tree, reflect.TypeOf(obj)); len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// exactFields reports every object key in v, a decoded JSON value, that is
// not the exact JSON name of a field of t, with the path to it.
func exactFields(path string, v any, t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p := reflect.PointerTo(t); p.Implements(jsonUnmarshaler) || p.Implements(textUnmarshaler) {
		return nil // decodes itself: Quantity, IntOrString, Time, ...
	}
	var problems []string
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil // a wrong type: the JSON decoder reports it
		}
		fields := jsonFields(t)
		for _, key := range sortedKeys(obj) {
			ft, ok := fields[key]
			if !ok {
				where := path
				if where == "" {
					where = "top level"
				}
				problems = append(problems, fmt.Sprintf("%s: unknown field %q%s", where, key, suggest(key, fields)))
				continue
			}
			problems = append(problems, exactFields(joinPath(path, key), obj[key], ft)...)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for _, key := range sortedKeys(obj) {
			problems = append(problems, exactFields(fmt.Sprintf("%s[%s]", path, key), obj[key], t.Elem())...)
		}
	case reflect.Slice, reflect.Array:
		list, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, item := range list {
			problems = append(problems, exactFields(fmt.Sprintf("%s[%d]", path, i), item, t.Elem())...)
		}
	}
	return problems
}

// jsonFields returns the JSON names of a struct's fields and their types,
// with the fields of embedded structs (TypeMeta, `json:",inline"`) promoted
// as encoding/json promotes them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	var own []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			for n, typ := range jsonFields(ft) {
				fields[n] = typ
			}
			continue
		}
		if f.IsExported() {
			own = append(own, f)
		}
	}
	for _, f := range own { // a struct's own fields win over promoted ones
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// suggest names the field a misspelt key probably meant.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fmt.Sprintf(" (the API spells it %q: field names are case-sensitive)", name)
		}
		if d := editDistance(key, name); d < bestDist || (d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// manifestFiles lists the YAML files of this directory.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	if len(files) == 0 {
		t.Fatal("no *.yaml files in config/kubernetes")
	}
	return files
}

// readManifest decodes every document of one file.
func readManifest(file string) ([]document, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []document
	var errs []error
	docs, lines := splitDocuments(data)
	for i, doc := range docs {
		kind, obj, empty, err := decodeDocument(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d (document %d): %w", file, lines[i], i+1, err))
			continue
		}
		if !empty {
			out = append(out, document{file: file, line: lines[i], kind: kind, obj: obj})
		}
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no documents", file))
	}
	return out, errors.Join(errs...)
}

// loadAll decodes every manifest, or stops the test: the property tests
// need all of them (TestManifestsDecodeStrictly reports each failure).
func loadAll(t *testing.T) []document {
	t.Helper()
	var all []document
	for _, file := range manifestFiles(t) {
		docs, err := readManifest(file)
		if err != nil {
			t.Fatalf("manifests do not decode (see TestManifestsDecodeStrictly):\n%v", err)
		}
		all = append(all, docs...)
	}
	return all
}

func TestManifestsDecodeStrictly(t *testing.T) {
	for _, file := range manifestFiles(t) {
		t.Run(file, func(t *testing.T) {
			docs, err := readManifest(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				t.Logf("%s decodes as %T", d, d.obj)
			}
		})
	}
}

// TestStrictDecodingRejects shows that the decoding above is strict: each
// document here is wrong in a way the API server or kubectl would reject or
// silently mishandle, and must fail with a message naming the problem.
func TestStrictDecodingRejects(t *testing.T) {
	const job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n"
	tests := []struct {
		name, doc, wantErr string
	}{
		{"misspelt field", job + "      restartPolicyy: Never\n",
			`spec.template.spec: unknown field "restartPolicyy" (did you mean "restartPolicy"?)`},
		{"wrongly cased field", "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: x\nspec:\n  schedule: \"0 * * * *\"\n  timezone: Asia/Shanghai\n",
			`spec: unknown field "timezone" (the API spells it "timeZone"`},
		{"field at the wrong level", job + "      backoffLimit: 2\n",
			`spec.template.spec: unknown field "backoffLimit"`},
		{"misspelt field in a list item", job + "      containers:\n        - name: a\n          imagePullPolicy: Always\n          arg: [run]\n",
			`spec.template.spec.containers[0]: unknown field "arg" (did you mean "args"?)`},
		{"duplicate key", job + "      restartPolicy: Never\n      restartPolicy: OnFailure\n",
			`already set in map`},
		{"number where the API wants a string", job + "      containers:\n        - name: a\n          env:\n            - name: COUNT\n              value: 4\n",
			`cannot unmarshal number into Go struct field EnvVar`},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n",
			`kind "Pod" is not one the tests know`},
		{"wrong apiVersion", "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: x\n",
			`apiVersion is "batch/v1beta1", want "batch/v1"`},
		{"misspelt kustomization field", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresource: [a.yaml]\n",
			`unknown field "resource" (did you mean "resources"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := decodeDocument([]byte(tt.doc))
			if err == nil {
				t.Fatalf("decoded without error:\n%s", tt.doc)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q\ndoes not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestSplitDocuments(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantDocs  []string
		wantLines []int
	}{
		{"one document", "a: 1\n", []string{"a: 1\n"}, []int{1}},
		{"leading separator", "---\na: 1\n", []string{"", "a: 1\n"}, []int{1, 2}},
		{"separator with a comment, --- inside a block scalar", "a: 1\n---\nb: 2\n--- # two\nc: |\n  ---x\n", []string{"a: 1\n", "b: 2\n", "c: |\n  ---x\n"}, []int{1, 3, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, lines := splitDocuments([]byte(tt.in))
			var got []string
			for _, d := range docs {
				got = append(got, string(d))
			}
			if !slices.Equal(got, tt.wantDocs) || !slices.Equal(lines, tt.wantLines) {
				t.Errorf("splitDocuments(%q) = %q at lines %v, want %q at lines %v", tt.in, got, lines, tt.wantDocs, tt.wantLines)
			}
		})
	}
}
