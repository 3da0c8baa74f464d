package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// locate explains why a document did not decode: encoding/json stops at the
// first problem and names neither list indices nor the path of an unknown
// field, so this walks the generic form of the document along the NodeSLO
// type and reports every problem with its path. It runs only when the strict
// decode failed.
func locate(data []byte) []error {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return []error{err}
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return []error{fmt.Errorf("decode JSON form of the document: %w", err)}
	}
	var problems []error
	walk(reflect.TypeFor[NodeSLO](), doc, "", &problems)
	return problems
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// walk checks v against type t; path is where v is ("" for the document).
func walk(t reflect.Type, v any, path string, problems *[]error) {
	if v == nil {
		return // null leaves a field at its zero, as encoding/json does
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		leaf(t, v, path, problems)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			*problems = append(*problems, fmt.Errorf("%s: expected a mapping, got %s", where(path), describe(v)))
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fieldFor(fields, k)
			if !ok {
				*problems = append(*problems, fmt.Errorf("%s: unknown field %q", where(path), k))
				continue
			}
			walk(f.Type, m[k], join(path, f.name), problems)
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			*problems = append(*problems, fmt.Errorf("%s: expected a list, got %s", where(path), describe(v)))
			return
		}
		for i, e := range s {
			walk(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i), problems)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			*problems = append(*problems, fmt.Errorf("%s: expected a mapping, got %s", where(path), describe(v)))
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walk(t.Elem(), m[k], join(path, k), problems)
		}
	case reflect.String:
		// sigs.k8s.io/yaml turns scalars into strings where the target is
		// a string, so a number or a boolean is fine here.
		switch v.(type) {
		case string, json.Number, bool:
		default:
			*problems = append(*problems, fmt.Errorf("%s: expected a string, got %s", where(path), describe(v)))
		}
	default:
		leaf(t, v, path, problems)
	}
}

// leaf decodes one scalar into a new value of type t.
func leaf(t reflect.Type, v any, path string, problems *[]error) {
	b, err := json.Marshal(v)
	if err != nil {
		*problems = append(*problems, fmt.Errorf("%s: %w", where(path), err))
		return
	}
	if err := json.Unmarshal(b, reflect.New(t).Interface()); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			*problems = append(*problems, fmt.Errorf("%s: expected %s, got %s", where(path), kindName(t), describe(v)))
		default:
			*problems = append(*problems, fmt.Errorf("%s: %w", where(path), err))
		}
	}
}

// field is one JSON field of a struct.
type field struct {
	name string
	reflect.Type
}

// jsonFields lists the JSON fields of struct type t.
func jsonFields(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs = append(fs, field{name: name, Type: f.Type})
	}
	return fs
}

// fieldFor finds the field a key sets the way encoding/json does: the exact
// name first, then a case-insensitive match.
func fieldFor(fs []field, key string) (field, bool) {
	for _, f := range fs {
		if f.name == key {
			return f, true
		}
	}
	for _, f := range fs {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return field{}, false
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func where(path string) string {
	if path == "" {
		return "document"
	}
	return path
}

func describe(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", x)
	case json.Number:
		return "the number " + x.String()
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	default:
		return fmt.Sprintf("%T", v)
	}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	default:
		return t.String()
	}
}
