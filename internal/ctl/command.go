package ctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/internal/kube"
)

// Defaults of the commands that talk to the API server.
const (
	// DefaultNamespace holds the ConfigMap bigbox-nodeslo unless
	// $BIGBOX_NAMESPACE or --namespace says otherwise.
	DefaultNamespace = "bigbox-system"
	// NamespaceEnv names the environment variable of the namespace.
	NamespaceEnv = "BIGBOX_NAMESPACE"
	// PluginName is the name under which kubectl runs the binary as
	// `kubectl bigbox`.
	PluginName = "kubectl-bigbox"

	defaultWaitTimeout   = 10 * time.Minute
	kubeRequestTimeout   = 30 * time.Second
	agentFetchLimit      = 8
	addrTemplateNodeMark = "{node}"
)

// Env is what the commands take from main.
type Env struct {
	Stdout, Stderr io.Writer
	// Clock ticks the progress of disable.
	Clock clock.WithTicker
	// Getenv reads the environment ($BIGBOX_NAMESPACE).
	Getenv func(string) string
	// Program is the name the binary runs as (filepath.Base(os.Args[0])):
	// it chooses the command name in the usage text only.
	Program string
	// Addr is the agent's local API (the global --addr); AddrSet says it
	// was given.
	Addr    string
	AddrSet bool
	// RequestTimeout bounds each request to an agent (the global
	// --timeout).
	RequestTimeout time.Duration
	// KubeClient returns a client for the kubeconfig at path ("": the
	// loading rules: $KUBECONFIG, then ~/.kube/config, then in-cluster);
	// nil uses NewKubeClient.
	KubeClient func(path string) (kubernetes.Interface, error)
}

// CommandName is how the user calls the binary: "kubectl bigbox" for the
// kubectl plugin, else "bigboxctl".
func CommandName(program string) string {
	if strings.TrimSuffix(program, ".exe") == PluginName {
		return "kubectl bigbox"
	}
	return "bigboxctl"
}

// Usage is the top-level usage text.
func Usage(program string) string {
	return strings.ReplaceAll(`usage: PROG [--addr HOST:PORT] [--timeout 5s] COMMAND [flags]

commands:
  status    what the node has, uses, lends and limits now
            (--all-nodes: every node's bigbox resources from the API server)
  explain   why the node lends what it lends, term by term
  disable   the one-click switch off, cluster-wide or --node NAME; waits until clean
  enable    the switch on again, cluster-wide or --node NAME
  simulate  replay usage traces through the policy offline (PROG simulate -h)

PROG COMMAND -h lists the flags of a command; docs/cli.md has examples.
`, "PROG", CommandName(program))
}

// Run runs the command cmd (status, explain, disable, enable) with args,
// the arguments after its name.
func Run(ctx context.Context, cmd string, args []string, env Env) error {
	switch cmd {
	case "status", "explain":
		return runStatus(ctx, cmd, args, env)
	case "disable", "enable":
		return runSwitch(ctx, cmd == "enable", args, env)
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, Usage(env.Program))
	}
}

// NewKubeClient builds a client from the kubeconfig at path, or from the
// client-go loading rules when path is "".
func NewKubeClient(path string) (kubernetes.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.Timeout = kubeRequestTimeout
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	return client, nil
}

func (env Env) kubeClient(path string) (kubernetes.Interface, error) {
	if env.KubeClient != nil {
		return env.KubeClient(path)
	}
	return NewKubeClient(path)
}

func (env Env) namespace() string {
	if env.Getenv != nil {
		if ns := env.Getenv(NamespaceEnv); ns != "" {
			return ns
		}
	}
	return DefaultNamespace
}

func (env Env) httpClient() *http.Client { return &http.Client{Timeout: env.RequestTimeout} }

// flagSet starts the flags of a command; --addr defaults to the global one.
func (env Env) flagSet(name, synopsis string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	addr := fs.String("addr", env.Addr, "address of the agent's local API")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s %s\n\nflags:\n", CommandName(env.Program), name, synopsis)
		fs.PrintDefaults()
	}
	return fs, addr
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

func runStatus(ctx context.Context, cmd string, args []string, env Env) error {
	synopsis := "[--addr HOST:PORT]"
	if cmd == "status" {
		synopsis += " | --all-nodes [--kubeconfig PATH] [--namespace NS] [--addr-template URL]"
	}
	fs, addr := env.flagSet(cmd, synopsis)
	var allNodes *bool
	var kubeconfig, namespace, template *string
	if cmd == "status" {
		allNodes = fs.Bool("all-nodes", false, "list every node's bigbox resources from the API server")
		kubeconfig = fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
		namespace = fs.String("namespace", env.namespace(), "namespace of the ConfigMap "+kube.ConfigMapName+", read for the units and the switch ($"+NamespaceEnv+" sets the default)")
		template = fs.String("addr-template", "", `with --all-nodes, each agent's local API with {node} for the node name, e.g. "http://{node}:9560": fills the USED columns`)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", cmd, fs.Args())
	}
	if allNodes != nil && *allNodes {
		return allNodesStatus(ctx, env, *kubeconfig, *namespace, *template)
	}
	st, err := FetchStatus(ctx, env.httpClient(), *addr)
	if err != nil {
		return err
	}
	if cmd == "explain" {
		return WriteExplain(env.Stdout, st)
	}
	return WriteStatus(env.Stdout, st)
}

func allNodesStatus(ctx context.Context, env Env, kubeconfig, namespace, template string) error {
	if template != "" && !strings.Contains(template, addrTemplateNodeMark) {
		return fmt.Errorf("--addr-template %q lacks %s", template, addrTemplateNodeMark)
	}
	client, err := env.kubeClient(kubeconfig)
	if err != nil {
		return err
	}
	slo, sloErr := readNodeSLO(ctx, client, namespace)
	rows, err := ListNodes(ctx, client, slo)
	if err != nil {
		return err
	}
	if template != "" {
		hc := env.httpClient()
		FillUsed(ctx, rows, agentFetchLimit, func(ctx context.Context, node string) (api.Status, error) {
			return FetchStatus(ctx, hc, strings.ReplaceAll(template, addrTemplateNodeMark, node))
		})
	}
	units := config.Default().UnitSizes()
	if slo != nil {
		units = slo.UnitSizes()
	}
	if err := WriteNodes(env.Stdout, rows, units); err != nil {
		return err
	}
	if sloErr != nil {
		p := &printer{w: env.Stdout}
		p.f("NodeSLO not read (%v): SWITCH unknown, units the defaults\n", sloErr)
		return p.err
	}
	return nil
}

// readNodeSLO reads the NodeSLO in force from the ConfigMap; a missing
// ConfigMap or key is the defaults.
func readNodeSLO(ctx context.Context, client kubernetes.Interface, namespace string) (*config.NodeSLO, error) {
	cm, err := client.CoreV1().ConfigMaps(namespace).Get(ctx, kube.ConfigMapName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return config.Default(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("get ConfigMap %s/%s: %w", namespace, kube.ConfigMapName, err)
	}
	slo, err := config.Parse([]byte(cm.Data[kube.ConfigMapKey]))
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s: %w", namespace, kube.ConfigMapName, err)
	}
	return slo, nil
}

// switchFlags are the flags of disable and enable.
type switchFlags struct {
	node, namespace, kubeconfig, file, addr string
	wait, addrSet                           bool
	timeout                                 time.Duration
}

func runSwitch(ctx context.Context, enable bool, args []string, env Env) error {
	name := map[bool]string{true: "enable", false: "disable"}[enable]
	synopsis := "[--node NAME] [--namespace NS] [--kubeconfig PATH] | --config FILE"
	if !enable {
		synopsis = "[--node NAME] [--namespace NS] [--kubeconfig PATH] [--wait] [--timeout 10m] | --config FILE [--addr HOST:PORT]"
	}
	fs, addr := env.flagSet(name, synopsis)
	var f switchFlags
	fs.StringVar(&f.node, "node", "", "switch this node only (its kubernetes.io/hostname label); default: cluster-wide")
	fs.StringVar(&f.namespace, "namespace", env.namespace(), "namespace of the ConfigMap "+kube.ConfigMapName+" ($"+NamespaceEnv+" sets the default)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&f.file, "config", "", "standalone mode: edit this NodeSLO file instead of the ConfigMap")
	if !enable {
		fs.BoolVar(&f.wait, "wait", true, "report progress until the node (every disabled node) is clean")
		fs.DurationVar(&f.timeout, "timeout", defaultWaitTimeout, "give up waiting after this long (exit status 1)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())
	}
	f.addr, f.addrSet = *addr, env.AddrSet || flagGiven(fs, "addr")
	s := Switch{Enabled: enable, Host: f.node}
	progress := Progress{Clock: env.Clock, Timeout: f.timeout, Out: env.Stdout}
	if f.file != "" {
		return switchFile(ctx, env, f, s, progress)
	}
	return switchCluster(ctx, env, f, s, progress)
}

func switchFile(ctx context.Context, env Env, f switchFlags, s Switch, progress Progress) error {
	res, err := SetSwitchInFile(f.file, s)
	if err != nil {
		return err
	}
	if err := writeResult(env.Stdout, res, f.file); err != nil {
		return err
	}
	if !f.wait {
		return nil
	}
	if !f.addrSet {
		p := &printer{w: env.Stdout}
		p.f("not waiting: give --addr to follow the standalone agent until it is clean\n")
		return p.err
	}
	return progress.WaitAgent(ctx, env.httpClient(), f.addr)
}

func switchCluster(ctx context.Context, env Env, f switchFlags, s Switch, progress Progress) error {
	client, err := env.kubeClient(f.kubeconfig)
	if err != nil {
		return err
	}
	if s.Host != "" {
		node, err := client.CoreV1().Nodes().Get(ctx, f.node, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get node %s: %w", f.node, err)
		}
		host, ok := node.Labels[HostnameLabel]
		if !ok {
			return fmt.Errorf("node %s has no label %s to select it by; write a nodes override in the NodeSLO by hand", f.node, HostnameLabel)
		}
		s.Host, s.NodeLabels = host, node.Labels
	}
	res, err := SetSwitchInConfigMap(ctx, client, f.namespace, s)
	if err != nil {
		return err
	}
	if err := writeResult(env.Stdout, res, "ConfigMap "+f.namespace+"/"+kube.ConfigMapName); err != nil {
		return err
	}
	if !f.wait {
		return nil
	}
	nodes := []string{f.node}
	if s.Host == "" {
		if nodes, err = disabledNodes(ctx, client, res.Document, env.Stdout); err != nil {
			return err
		}
	}
	return progress.WaitNodes(ctx, client, nodes)
}

// disabledNodes lists the nodes the NodeSLO doc disables, and prints those
// it keeps enabled.
func disabledNodes(ctx context.Context, client kubernetes.Interface, doc []byte, out io.Writer) ([]string, error) {
	slo, err := config.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("parse the NodeSLO written: %w", err)
	}
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var off, on []string
	p := &printer{w: out}
	for _, n := range list.Items {
		enabled, err := EnabledOn(slo, n.Labels)
		switch {
		case err != nil:
			p.f("not waiting for %s: %v\n", n.Name, err)
		case enabled:
			on = append(on, n.Name)
		default:
			off = append(off, n.Name)
		}
	}
	if len(on) > 0 {
		p.f("still enabled by a nodes override: %s\n", strings.Join(on, ", "))
	}
	p.f("waiting for %d node(s) to be clean\n", len(off))
	return off, p.err
}

func writeResult(w io.Writer, res SwitchResult, where string) error {
	p := &printer{w: w}
	for _, n := range res.Notes {
		p.f("%s\n", n)
	}
	switch {
	case res.Created:
		p.f("%s created\n", where)
	case res.Changed:
		p.f("%s updated\n", where)
	default:
		p.f("%s unchanged\n", where)
	}
	return p.err
}
