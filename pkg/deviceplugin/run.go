package deviceplugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

// Run serves the DevicePlugin service on p's socket and registers with the
// kubelet, and keeps it so until ctx is done; then it stops serving, removes
// the socket and returns nil.
//
// The kubelet deletes every socket in its directory when it starts and then
// creates kubelet.sock; a plugin that does not notice stays unregistered and
// the node's capacity stays 0. So Run watches the directory: when
// kubelet.sock is created anew, or our socket is removed, it stops serving,
// serves on a fresh socket and registers again (within milliseconds of the
// event, or after the first backoff step if the kubelet is not listening
// yet). A failed start is retried with a doubling backoff, and never leaves
// a server running unregistered. Run returns an error only when it cannot
// watch the directory.
//
// Set the held devices and the amount before Run, so that a restarted agent
// does not register a list without the devices running pods hold.
func (p *Plugin) Run(ctx context.Context) (err error) {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("device plugin: Run called twice")
	}
	defer p.running.Store(false)

	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", p.dir, err)
	}
	defer func() {
		if cerr := w.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close watcher of %s: %w", p.dir, cerr))
		}
	}()
	if err := w.Add(p.dir); err != nil {
		return fmt.Errorf("watch %s: %w", p.dir, err)
	}

	var (
		sess    *session
		retry   <-chan time.Time
		backoff = p.backoffInitial
		attempt = true
	)
	stop := func(reason string) {
		if sess == nil {
			return
		}
		if err := sess.stop(); err != nil {
			p.logger.Warn("stop serving", "reason", reason, "err", err)
		}
		sess = nil
	}
	defer stop("shutdown")

	for {
		if attempt {
			attempt, retry = false, nil
			s, err := p.start(ctx)
			switch {
			case err == nil:
				sess, backoff = s, p.backoffInitial
				p.logger.Info("registered with kubelet", "socket", p.socketPath)
			case ctx.Err() != nil:
				return nil
			default:
				p.logger.Warn("register with kubelet failed", "err", err, "retry_in", backoff)
				retry = p.clock.After(backoff)
				backoff = min(2*backoff, p.backoffMax)
			}
		}

		var served <-chan struct{}
		if sess != nil {
			served = sess.done
		}
		select {
		case <-ctx.Done():
			return nil
		case <-retry:
			attempt = true
		case <-served:
			p.logger.Error("device plugin server stopped", "err", sess.serveErr, "retry_in", backoff)
			stop("server stopped")
			retry = p.clock.After(backoff)
			backoff = min(2*backoff, p.backoffMax)
		case ev, ok := <-w.Events:
			if !ok {
				return fmt.Errorf("watch %s: watcher closed", p.dir)
			}
			if ev.Name == p.dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				return fmt.Errorf("watch %s: directory removed", p.dir)
			}
			if reason := p.restartReason(ev, sess); reason != "" {
				p.logger.Info("serving and registering again", "reason", reason)
				stop(reason)
				attempt = true
				if reason == reasonKubeletCreated {
					// A new kubelet: the socket file exists from bind(2) on,
					// but connecting fails until listen(2), so the first
					// attempt may fail. Retry soon, whatever the backoff
					// had grown to while the kubelet was away.
					backoff = p.backoffInitial
				}
			}
		case werr, ok := <-w.Errors:
			if !ok {
				return fmt.Errorf("watch %s: watcher closed", p.dir)
			}
			// An error may mean lost events (queue overflow): start over
			// rather than miss a kubelet restart.
			p.logger.Warn("watch device plugin dir", "err", werr)
			stop("watch error")
			attempt = true
		}
	}
}

// Reasons to serve and register again.
const (
	reasonKubeletCreated = "kubelet socket created"
	reasonSocketRemoved  = "plugin socket removed"
)

// restartReason says why ev calls for serving and registering again, or ""
// when it does not. Our own socket's removal and creation (by stop and
// serve) come back as events too; comparing files tells them apart.
func (p *Plugin) restartReason(ev fsnotify.Event, sess *session) string {
	switch ev.Name {
	case p.kubeletSocketPath:
		if !ev.Has(fsnotify.Create) {
			return ""
		}
		if sess != nil && sameFile(p.kubeletSocketPath, sess.kubelet) {
			return "" // the kubelet we registered with
		}
		return reasonKubeletCreated
	case p.socketPath:
		if sess == nil || !ev.Has(fsnotify.Remove|fsnotify.Rename) {
			return ""
		}
		if sameFile(p.socketPath, sess.socket) {
			return "" // an older socket of ours
		}
		return reasonSocketRemoved
	}
	return ""
}

// sameFile reports whether path is still the file described by fi (same
// inode and modification time, as inodes are reused).
func sameFile(path string, fi os.FileInfo) bool {
	cur, err := os.Stat(path)
	return err == nil && os.SameFile(cur, fi) && cur.ModTime().Equal(fi.ModTime())
}

// session is one serving of the DevicePlugin service on p's socket and the
// kubelet socket it registered with. Its Serve goroutine is waited for by
// stop.
type session struct {
	server   *grpc.Server
	path     string
	socket   os.FileInfo // our socket as created
	kubelet  os.FileInfo // kubelet.sock as registered with
	done     chan struct{}
	serveErr error // set before done is closed
}

// start serves, waits until the socket answers and registers. On error
// nothing is left running.
func (p *Plugin) start(ctx context.Context) (*session, error) {
	s, err := p.serve()
	if err != nil {
		return nil, err
	}
	if err := p.checkServing(ctx); err != nil {
		return nil, errors.Join(err, s.stop())
	}
	kubelet, err := p.register(ctx)
	if err != nil {
		return nil, errors.Join(err, s.stop())
	}
	s.kubelet = kubelet
	return s, nil
}

// serve clears a stale socket and serves on a new one.
func (p *Plugin) serve() (*session, error) {
	if err := os.Remove(p.socketPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: p.socketPath, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	// stop removes the socket only if it is still ours; closing must not
	// remove whatever is at the path by then.
	lis.SetUnlinkOnClose(false)
	fi, err := os.Stat(p.socketPath)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("stat new socket: %w", err), lis.Close())
	}
	srv := grpc.NewServer()
	pluginapi.RegisterDevicePluginServer(srv, &service{p: p})
	s := &session{server: srv, path: p.socketPath, socket: fi, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.serveErr = srv.Serve(lis)
	}()
	return s, nil
}

// stop stops serving, waits for the Serve goroutine, and removes the socket
// if it is still the one this session created.
func (s *session) stop() error {
	s.server.Stop()
	<-s.done
	if !sameFile(s.path, s.socket) {
		return nil
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove socket: %w", err)
	}
	return nil
}

// checkServing calls our own socket, as the kubelet will right after
// Register.
func (p *Plugin) checkServing(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	conn, err := dialUnix(p.socketPath)
	if err != nil {
		return err
	}
	defer closeClient(conn)
	if _, err := pluginapi.NewDevicePluginClient(conn).GetDevicePluginOptions(ctx, &pluginapi.Empty{}, grpc.WaitForReady(true)); err != nil {
		return fmt.Errorf("check own socket: %w", err)
	}
	return nil
}

// register calls Register on kubelet.sock and returns the socket it
// registered with.
func (p *Plugin) register(ctx context.Context) (os.FileInfo, error) {
	fi, err := os.Stat(p.kubeletSocketPath)
	if err != nil {
		return nil, fmt.Errorf("kubelet socket: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	conn, err := dialUnix(p.kubeletSocketPath)
	if err != nil {
		return nil, err
	}
	defer closeClient(conn)
	_, err = pluginapi.NewRegistrationClient(conn).Register(ctx, &pluginapi.RegisterRequest{
		Version:      pluginapi.Version,
		Endpoint:     filepath.Base(p.socketPath),
		ResourceName: p.res.Name,
		Options:      options(),
	})
	if err != nil {
		return nil, fmt.Errorf("register at %s: %w", p.kubeletSocketPath, err)
	}
	return fi, nil
}

// closeClient closes a connection made for one call. It fails only when
// already closed, and the call's result is what counts.
func closeClient(conn *grpc.ClientConn) {
	_ = conn.Close()
}

// dialUnix returns a gRPC client of the unix socket at path; it connects on
// the first call.
func dialUnix(path string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	conn, err := grpc.NewClient("unix://"+path, opts...)
	if err != nil {
		return nil, fmt.Errorf("client of %s: %w", path, err)
	}
	return conn, nil
}
