package apikey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"strings"
)

// MasterKeyEnv names the environment variable that holds the master key. It is
// read from the environment only, never from a config file or a flag, so that
// it does not end up in a file next to the database or in a process listing.
const MasterKeyEnv = "APIKEY_MASTER_KEY"

// Sealer encrypts secrets with the master key (AES-256-GCM) so that `show
// --reveal` can print them again.
type Sealer struct{ aead cipher.AEAD }

// ParseMasterKey reads a master key: 32 random bytes in standard or URL-safe
// base64.
func ParseMasterKey(s string) (*Sealer, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil || len(raw) != 32 {
		return nil, Usagef("%s is not 32 bytes of base64", MasterKeyEnv).WithHint("make one with: openssl rand -base64 32")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, Runtimef("cannot use master key: %v", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, Runtimef("cannot use master key: %v", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts secret, binding it to keyID so that a sealed copy moved to
// another key's row does not open.
func (s *Sealer) Seal(keyID, secret string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, Runtimef("cannot read random bytes: %v", err)
	}
	return s.aead.Seal(nonce, nonce, []byte(secret), []byte(keyID)), nil
}

// Open decrypts a sealed copy made by Seal for keyID.
func (s *Sealer) Open(keyID string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", Runtimef("the sealed copy of this key is damaged")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(keyID))
	if err != nil {
		// Almost always a master key other than the one the key was sealed
		// under: a value the user gave, so a usage error.
		return "", Usagef("cannot open the sealed copy of this key").WithHint("was it sealed with another master key?")
	}
	return string(plain), nil
}
