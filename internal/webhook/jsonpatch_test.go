package webhook

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// applyPatch applies a JSON patch (RFC 6902: add, replace, remove) to doc,
// as the API server does with a webhook's answer.
func applyPatch(doc, patch []byte) ([]byte, error) {
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("decode document: %w", err)
	}
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(patch, &ops); err != nil {
		return nil, fmt.Errorf("decode patch: %w", err)
	}
	for _, op := range ops {
		switch op.Op {
		case "add", "replace", "remove":
		default:
			return nil, fmt.Errorf("op %q is not supported", op.Op)
		}
		var value any
		if op.Op != "remove" {
			if err := json.Unmarshal(op.Value, &value); err != nil {
				return nil, fmt.Errorf("%s %s: decode value: %w", op.Op, op.Path, err)
			}
		}
		if !strings.HasPrefix(op.Path, "/") {
			return nil, fmt.Errorf("%s %q: path does not start with /", op.Op, op.Path)
		}
		var err error
		if root, err = applyOp(root, strings.Split(op.Path[1:], "/"), op.Op, value); err != nil {
			return nil, fmt.Errorf("%s %s: %w", op.Op, op.Path, err)
		}
	}
	return json.Marshal(root)
}

func applyOp(node any, tokens []string, op string, value any) (any, error) {
	tok := strings.NewReplacer("~1", "/", "~0", "~").Replace(tokens[0])
	last := len(tokens) == 1
	switch n := node.(type) {
	case map[string]any:
		child, ok := n[tok]
		switch {
		case !last && !ok, last && op != "add" && !ok:
			return nil, fmt.Errorf("no member %q", tok)
		case !last:
			c, err := applyOp(child, tokens[1:], op, value)
			n[tok] = c
			return n, err
		case op == "remove":
			delete(n, tok)
		default: // add, replace
			n[tok] = value
		}
		return n, nil
	case []any:
		i, err := strconv.Atoi(tok)
		if tok == "-" && last && op == "add" {
			i, err = len(n), nil
		}
		if err != nil || i < 0 || i > len(n) || (i == len(n) && !(last && op == "add")) {
			return nil, fmt.Errorf("bad index %q into %d elements", tok, len(n))
		}
		switch {
		case !last:
			c, err := applyOp(n[i], tokens[1:], op, value)
			n[i] = c
			return n, err
		case op == "add":
			return append(n[:i], append([]any{value}, n[i:]...)...), nil
		case op == "remove":
			return append(n[:i], n[i+1:]...), nil
		default:
			n[i] = value
			return n, nil
		}
	default:
		return nil, fmt.Errorf("cannot step into %T with %q", node, tok)
	}
}
