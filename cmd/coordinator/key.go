package main

import (
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nkeys"
)

// maxKeyFile bounds a seed file: a seed is 58 bytes, a creds file a few
// hundred.
const maxKeyFile = 64 << 10

// readSigningKey reads the nkey seed of path (a seed alone, or the seed
// block of a NATS creds file). The file must be readable by its owner
// only: whoever reads it can sign shards every agent runs.
func readSigningKey(path string) (nkeys.KeyPair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o lets others read the key: chmod 600 %s", path, m, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: over %d bytes, not a seed file", path, maxKeyFile)
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: no nkey seed: %w", path, err)
	}
	return kp, nil
}
