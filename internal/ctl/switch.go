package ctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/bigbox-dev/bigbox/internal/kube"
)

// SwitchResult says what a switch did to the NodeSLO.
type SwitchResult struct {
	// Changed is set when the document was written (or created).
	Changed bool
	// Created is set when the ConfigMap did not exist and was created.
	Created bool
	// Document is the NodeSLO in force after the switch.
	Document []byte
	// Notes say what changed (EditSwitch).
	Notes []string
}

// SetSwitchInConfigMap applies s to the NodeSLO in the ConfigMap
// bigbox-nodeslo (key nodeslo.yaml) of namespace. The update carries the
// resourceVersion it read, so an edit made meanwhile by someone else is
// never overwritten: on a conflict it reads and edits again. A missing
// ConfigMap is created when the switch changes something (a disable); a
// missing key is an empty document (the defaults).
func SetSwitchInConfigMap(ctx context.Context, client kubernetes.Interface, namespace string, s Switch) (SwitchResult, error) {
	cms := client.CoreV1().ConfigMaps(namespace)
	var res SwitchResult
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		res = SwitchResult{}
		cm, err := cms.Get(ctx, kube.ConfigMapName, metav1.GetOptions{})
		missing := apierrors.IsNotFound(err)
		if err != nil && !missing {
			return fmt.Errorf("get ConfigMap %s/%s: %w", namespace, kube.ConfigMapName, err)
		}
		var old []byte
		if !missing {
			old = []byte(cm.Data[kube.ConfigMapKey])
		}
		doc, notes, err := EditSwitch(old, s)
		if err != nil {
			return fmt.Errorf("ConfigMap %s/%s key %s: %w", namespace, kube.ConfigMapName, kube.ConfigMapKey, err)
		}
		res.Document, res.Notes = doc, notes
		if string(doc) == string(old) {
			return nil
		}
		res.Changed = true
		if missing {
			cm = &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: kube.ConfigMapName, Namespace: namespace},
				Data:       map[string]string{kube.ConfigMapKey: string(doc)},
			}
			_, err := cms.Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				// Created meanwhile: read it and edit that.
				return apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, kube.ConfigMapName, err)
			}
			if err != nil {
				return fmt.Errorf("create ConfigMap %s/%s: %w", namespace, kube.ConfigMapName, err)
			}
			res.Created = true
			return nil
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[kube.ConfigMapKey] = string(doc)
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			// RetryOnConflict finds a Conflict through the wrapping.
			return fmt.Errorf("update ConfigMap %s/%s: %w", namespace, kube.ConfigMapName, err)
		}
		return nil
	})
	return res, err
}

// SetSwitchInFile applies s to the NodeSLO file at path, for an agent in
// standalone mode. The file is replaced atomically (a temporary file in the
// same directory, synced, then renamed over it), keeping its mode; a
// symbolic link is followed and its target replaced. A missing file is
// created (mode 0644) when the switch changes something.
func SetSwitchInFile(path string, s Switch) (SwitchResult, error) {
	target, err := filepath.EvalSymlinks(path)
	missing := errors.Is(err, os.ErrNotExist)
	switch {
	case missing:
		target = path
	case err != nil:
		return SwitchResult{}, fmt.Errorf("resolve %s: %w", path, err)
	}
	var old []byte
	mode := os.FileMode(0o644)
	if !missing {
		fi, err := os.Stat(target)
		if err != nil {
			return SwitchResult{}, fmt.Errorf("stat %s: %w", target, err)
		}
		mode = fi.Mode().Perm()
		if old, err = os.ReadFile(target); err != nil {
			return SwitchResult{}, fmt.Errorf("read %s: %w", target, err)
		}
	}
	doc, notes, err := EditSwitch(old, s)
	if err != nil {
		return SwitchResult{}, fmt.Errorf("%s: %w", path, err)
	}
	res := SwitchResult{Document: doc, Notes: notes}
	if string(doc) == string(old) {
		return res, nil
	}
	if err := writeAtomic(target, doc, mode); err != nil {
		return SwitchResult{}, err
	}
	res.Changed, res.Created = true, missing
	return res, nil
}

// writeAtomic replaces path with data: readers see the old or the new
// content, never a part.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = errors.Join(write(f, data), f.Chmod(mode), f.Sync())
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("replace %s: %w", path, err), os.Remove(f.Name()))
	}
	// The rename survives a crash once the directory is synced.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s to sync it: %w", dir, err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func write(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return err
}
