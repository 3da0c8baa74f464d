package ctl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/bigbox-dev/bigbox/internal/config"
)

// HostnameLabel is the node label a per-node switch entry selects on.
const HostnameLabel = "kubernetes.io/hostname"

// Switch is one use of the one-click switch: colocation on or off for the
// whole cluster or for one node.
type Switch struct {
	// Enabled is the state to set.
	Enabled bool
	// Host is the value of the node's kubernetes.io/hostname label whose
	// switch entry is edited; "" sets the cluster-wide switch.
	Host string
	// NodeLabels are the node's labels, used to check what the edited
	// document means for that node; nil stands for {kubernetes.io/hostname:
	// Host}.
	NodeLabels map[string]string
}

func (s Switch) String() string {
	verb := "disable"
	if s.Enabled {
		verb = "enable"
	}
	if s.Host == "" {
		return verb + " colocation cluster-wide"
	}
	return verb + " colocation on " + s.Host
}

// EditSwitch returns the NodeSLO document doc with s applied, and notes that
// say what changed and what the edit cannot change. The edit keeps the
// document's other fields, their order and its comments; only the
// formatting is normalized (two-space indentation), and a document the edit
// leaves as it was is returned byte for byte. The result is checked with
// config.Parse: a document that would not validate is refused, so an agent
// never receives a switch it would reject.
//
// The cluster-wide switch is the top-level `enabled`. Disabling sets it to
// false (inserting it as the first key when absent) and removes the
// per-node entries bigboxctl wrote that enable a node, so one click turns
// every node off; an override the operator wrote that sets `enabled: true`
// is kept and named in a note. Enabling sets an existing `enabled: false`
// to true and leaves an absent one absent (the default is true); per-node
// disables stay.
//
// A per-node switch is a `nodes` entry with exactly the keys selector and
// enabled, the selector {matchLabels: {kubernetes.io/hostname: HOST}}.
// Disabling removes every such entry of the node and appends one with
// `enabled: false`: the last matching override wins, so it holds whatever
// the entries before it say. Enabling removes them, deletes `enabled` from
// an operator's entry with the same selector, and, when the node is still
// disabled (by the cluster-wide switch or another override), appends an
// entry with `enabled: true`.
func EditSwitch(doc []byte, s Switch) ([]byte, []string, error) {
	if _, err := config.Parse(doc); err != nil {
		return nil, nil, fmt.Errorf("the NodeSLO is invalid before the edit; fix it first: %w", err)
	}
	root, err := parseDocument(doc)
	if err != nil {
		return nil, nil, err
	}
	before, err := encode(root)
	if err != nil {
		return nil, nil, err
	}
	e := &editor{top: root.Content[0], header: root.HeadComment != ""}
	if s.Host == "" {
		e.setCluster(s.Enabled)
	} else if err := e.setNode(s); err != nil {
		return nil, nil, err
	}
	after, err := encode(root)
	if err != nil {
		return nil, nil, err
	}
	if bytes.Equal(before, after) {
		return doc, append(e.notes, "nothing to change: "+s.String()+" is in force already"), nil
	}
	if _, err := config.Parse(after); err != nil {
		return nil, nil, fmt.Errorf("the NodeSLO would be invalid after the edit, not written: %w", err)
	}
	return after, e.notes, nil
}

// parseDocument returns the document node of doc, its content a mapping. An
// empty document (or one of comments only, kept as the head comment) becomes
// an empty mapping.
func parseDocument(doc []byte) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("parse NodeSLO YAML: %w", err)
	}
	empty := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	switch {
	case root.Kind == 0:
		// yaml.v3 drops a document of comments only; keep them on top.
		root = yaml.Node{Kind: yaml.DocumentNode, HeadComment: strings.TrimSpace(string(doc)), Content: []*yaml.Node{empty}}
	case root.Kind != yaml.DocumentNode || len(root.Content) != 1:
		return nil, errors.New("parse NodeSLO YAML: not a single document")
	case root.Content[0].Kind == yaml.ScalarNode && root.Content[0].Tag == "!!null":
		empty.HeadComment = root.Content[0].HeadComment
		root.Content[0] = empty
	case root.Content[0].Kind != yaml.MappingNode:
		return nil, errors.New("parse NodeSLO YAML: the document is not a mapping")
	}
	return &root, nil
}

func encode(root *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode NodeSLO YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode NodeSLO YAML: %w", err)
	}
	return b.Bytes(), nil
}

// editor changes the top-level mapping of a NodeSLO document in place.
type editor struct {
	top *yaml.Node
	// header is set when the document has a head comment of its own, so
	// the first key's head comment is about that key.
	header bool
	notes  []string
}

func (e *editor) note(format string, args ...any) {
	e.notes = append(e.notes, fmt.Sprintf(format, args...))
}

func (e *editor) setCluster(enabled bool) {
	vs := values(e.top, "enabled")
	for _, v := range vs {
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Value != fmt.Sprint(enabled) {
			setBool(v, enabled)
			e.note("enabled: %t", enabled)
		}
	}
	if len(vs) == 0 && !enabled {
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "enabled"}
		if len(e.top.Content) > 0 && !e.header {
			// The first key's head comment is then the file's header.
			k.HeadComment, e.top.Content[0].HeadComment = e.top.Content[0].HeadComment, ""
		}
		e.top.Content = append([]*yaml.Node{k, boolNode(false)}, e.top.Content...)
		e.note("enabled: false")
	}
	seq := value(e.top, "nodes")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return
	}
	kept := seq.Content[:0]
	for i, entry := range seq.Content {
		host, on, pure := switchEntry(entry)
		ours := host != "" && pure
		if !enabled && ours && on != nil && *on {
			e.note("nodes[%d]: removed the entry enabling %s", i, host)
			continue
		}
		if !enabled && !ours && on != nil && *on {
			e.note("nodes[%d] sets enabled: true and keeps the nodes it selects enabled; edit it or disable them one by one", i)
		}
		kept = append(kept, entry)
	}
	seq.Content = kept
	e.dropEmptyNodes(seq)
}

func (e *editor) setNode(s Switch) error {
	seq := value(e.top, "nodes")
	switch {
	case seq == nil:
		seq = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		e.top.Content = append(e.top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "nodes"}, seq)
	case seq.Kind == yaml.ScalarNode && seq.Tag == "!!null":
		*seq = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", LineComment: seq.LineComment}
	case seq.Kind != yaml.SequenceNode:
		return errors.New("edit NodeSLO: nodes is not a list")
	}
	kept := seq.Content[:0]
	var reuse *yaml.Node // the node's last switch entry
	for i, entry := range seq.Content {
		host, on, pure := switchEntry(entry)
		if host != s.Host {
			kept = append(kept, entry)
			continue
		}
		if pure {
			if s.Enabled {
				e.note("nodes[%d]: removed the entry switching %s", i, s.Host)
			}
			reuse = entry
			continue // appended below if still needed
		}
		if s.Enabled && on != nil {
			deleteKey(entry, "enabled")
			e.note("nodes[%d]: removed enabled: %t from the override of %s", i, *on, s.Host)
		}
		kept = append(kept, entry)
	}
	seq.Content = kept
	if !s.Enabled {
		entry := newSwitchEntry(s.Host, false)
		if reuse != nil {
			// Kept with its comments and quoting, so a repeated disable
			// changes nothing.
			entry = reuse
			for _, v := range values(entry, "enabled") {
				setBool(v, false)
			}
			quoteAmbiguous(value(value(value(entry, "selector"), "matchLabels"), HostnameLabel))
		}
		seq.Content = append(seq.Content, entry)
		e.note("nodes[%d]: %s disabled", len(seq.Content)-1, s.Host)
		return nil
	}
	on, err := nodeEnabled(e.top, s)
	if err != nil {
		return err
	}
	if !on {
		seq.Content = append(seq.Content, newSwitchEntry(s.Host, true))
		e.note("nodes[%d]: %s enabled (the cluster-wide switch or another override disables it)", len(seq.Content)-1, s.Host)
	}
	e.dropEmptyNodes(seq)
	return nil
}

// nodeEnabled reports whether the document top enables colocation on the
// node of s.
func nodeEnabled(top *yaml.Node, s Switch) (bool, error) {
	doc, err := encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}})
	if err != nil {
		return false, err
	}
	slo, err := config.Parse(doc)
	if err != nil {
		return false, fmt.Errorf("the NodeSLO would be invalid after the edit, not written: %w", err)
	}
	return EnabledOn(slo, s.labels())
}

// EnabledOn reports whether the NodeSLO enables colocation on a node with
// the given labels (the per-node overrides applied).
func EnabledOn(slo *config.NodeSLO, nodeLabels map[string]string) (bool, error) {
	p, _, err := slo.ForNode(nodeLabels)
	if err != nil {
		return false, fmt.Errorf("NodeSLO for node labels %v: %w", nodeLabels, err)
	}
	return p.Enabled, nil
}

func (s Switch) labels() map[string]string {
	if s.NodeLabels != nil {
		return s.NodeLabels
	}
	return map[string]string{HostnameLabel: s.Host}
}

// dropEmptyNodes removes the nodes key when the edit left its list empty
// and nothing is written about it.
func (e *editor) dropEmptyNodes(seq *yaml.Node) {
	if len(seq.Content) > 0 {
		return
	}
	for i := 0; i+1 < len(e.top.Content); i += 2 {
		k := e.top.Content[i]
		if e.top.Content[i+1] == seq && k.HeadComment == "" && k.LineComment == "" && k.FootComment == "" && seq.LineComment == "" {
			e.top.Content = append(e.top.Content[:i], e.top.Content[i+2:]...)
			return
		}
	}
	seq.Style = yaml.FlowStyle
}

// switchEntry inspects a nodes entry: the hostname its selector is exactly
// {matchLabels: {kubernetes.io/hostname: HOST}} for ("" otherwise), its
// enabled value (nil when absent or not a boolean), and whether it has no
// keys but selector and enabled.
func switchEntry(entry *yaml.Node) (host string, enabled *bool, pure bool) {
	if entry.Kind != yaml.MappingNode {
		return "", nil, false
	}
	pure = true
	for i := 0; i+1 < len(entry.Content); i += 2 {
		if k := entry.Content[i].Value; !strings.EqualFold(k, "selector") && !strings.EqualFold(k, "enabled") {
			pure = false
		}
	}
	if v := value(entry, "enabled"); v != nil {
		var b bool
		if v.Decode(&b) == nil {
			enabled = &b
		}
	}
	sel := value(entry, "selector")
	if sel == nil || sel.Kind != yaml.MappingNode || len(sel.Content) != 2 {
		return "", enabled, pure
	}
	ml := value(sel, "matchLabels")
	if ml == nil || ml.Kind != yaml.MappingNode || len(ml.Content) != 2 || ml.Content[0].Value != HostnameLabel ||
		ml.Content[1].Kind != yaml.ScalarNode {
		return "", enabled, pure
	}
	return ml.Content[1].Value, enabled, pure
}

func newSwitchEntry(host string, enabled bool) *yaml.Node {
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	flow := func(k string, v *yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle, Content: []*yaml.Node{str(k), v}}
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		str("selector"), flow("matchLabels", flow(HostnameLabel, quoteAmbiguous(str(host)))),
		str("enabled"), boolNode(enabled),
	}}
}

// quoteAmbiguous double-quotes the plain string scalar n when
// sigs.k8s.io/yaml, which reads YAML 1.1, would not read it back as the same
// string (Y, no, 0123), though yaml.v3 writes such strings plain.
func quoteAmbiguous(n *yaml.Node) *yaml.Node {
	if n.Style != 0 && n.Style != yaml.TaggedStyle {
		return n
	}
	var v any
	if err := sigsyaml.Unmarshal([]byte(n.Value), &v); err != nil || v != any(n.Value) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// values returns the values of key in mapping m. Keys match as
// encoding/json matches struct fields, which sigs.k8s.io/yaml decodes
// through: ignoring case.
func values(m *yaml.Node, key string) []*yaml.Node {
	var vs []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if strings.EqualFold(m.Content[i].Value, key) {
			vs = append(vs, m.Content[i+1])
		}
	}
	return vs
}

// value returns the last value of key in mapping m (see values), nil when
// absent.
func value(m *yaml.Node, key string) *yaml.Node {
	if vs := values(m, key); len(vs) > 0 {
		return vs[len(vs)-1]
	}
	return nil
}

// deleteKey removes every key of m that matches key (see values).
func deleteKey(m *yaml.Node, key string) {
	kept := m.Content[:0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !strings.EqualFold(m.Content[i].Value, key) {
			kept = append(kept, m.Content[i], m.Content[i+1])
		}
	}
	m.Content = kept
}

func boolNode(v bool) *yaml.Node {
	n := &yaml.Node{}
	setBool(n, v)
	return n
}

// setBool makes n the boolean v, keeping its comments.
func setBool(n *yaml.Node, v bool) {
	n.Kind, n.Tag, n.Value, n.Style, n.Content = yaml.ScalarNode, "!!bool", fmt.Sprint(v), 0, nil
}
