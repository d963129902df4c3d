package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// The environment variables of each daemon start with its own prefix, so
// that neither reads the coord CLI's variables (BANFLEET_NATS_URL,
// BANFLEET_NATS_USER, …: a shell set up for the CLI must not turn a daemon
// started from it into an admin client of another NATS), nor the other
// daemon's.
const (
	// AgentEnvPrefix starts banfleet-agent's variables: BANFLEET_AGENT_NATS_URL
	// sets nats.url.
	AgentEnvPrefix = "BANFLEET_AGENT_"
	// CoordEnvPrefix starts coord serve's variables: BANFLEET_COORD_NATS_URL
	// sets nats.url.
	CoordEnvPrefix = "BANFLEET_COORD_"
)

// Source says where a configuration comes from.
type Source struct {
	File      string         // YAML file; "" = none
	Overrides map[string]any // flat key paths set by flags, applied last
	Environ   []string       // environment; nil = os.Environ()
}

// environ returns the environment the source reads.
func (src Source) environ() []string {
	if src.Environ == nil {
		return os.Environ()
	}
	return src.Environ
}

// load merges defaults, file, environment and overrides into out (a pointer
// to a struct with koanf tags) and returns the merged koanf instance.
// Variables are read only under envPrefix.
func load(src Source, envPrefix string, defaults map[string]any, out any, under ...koanf.Provider) (*koanf.Koanf, error) {
	where := where(src.File)
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(defaults, "."), nil); err != nil {
		return nil, fmt.Errorf("%s: defaults: %w", where, err)
	}
	for _, p := range under {
		if err := k.Load(p, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	if src.File != "" {
		if _, err := os.Stat(src.File); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if err := k.Load(file.Provider(src.File), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	fromEnv, err := envValues(src.environ(), envPrefix, scalarPaths(reflect.TypeOf(out).Elem(), ""))
	if err != nil {
		return nil, fmt.Errorf("%s: environment: %w", where, err)
	}
	if err := k.Load(confmap.Provider(fromEnv, "."), nil); err != nil {
		return nil, fmt.Errorf("%s: environment: %w", where, err)
	}
	if len(src.Overrides) > 0 {
		if err := k.Load(confmap.Provider(src.Overrides, "."), nil); err != nil {
			return nil, fmt.Errorf("%s: flags: %w", where, err)
		}
	}
	dc := &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Result:           out,
		TagName:          "koanf",
	}
	if err := k.UnmarshalWithConf("", out, koanf.UnmarshalConf{DecoderConfig: dc}); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", where, ErrInvalid, err)
	}
	return k, nil
}

// envValues returns the key paths the variables under prefix set. A
// variable under prefix that names no key (a typo, or a map such as jails,
// which only the file sets) is an error naming it.
func envValues(environ []string, prefix string, keys map[string]string) (map[string]any, error) {
	out := map[string]any{}
	for _, e := range environ {
		name, v, _ := strings.Cut(e, "=")
		key, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		path, ok := keys[key]
		if !ok {
			return nil, fmt.Errorf("%w: %s names no key that the environment can set (%s + a key path in upper case, '.' as '_', e.g. %sNATS_URL; maps such as jails are set in the file)",
				ErrInvalid, name, prefix, prefix)
		}
		out[path] = v
	}
	return out, nil
}

// peekString reads one top-level string key from the file, the
// environment (under envPrefix) and the overrides before the real load (for
// keys that decide what else to load).
func peekString(src Source, envPrefix, key string) string {
	if v, ok := src.Overrides[key].(string); ok {
		return v
	}
	name := envPrefix + strings.ToUpper(key) + "="
	for _, e := range src.environ() {
		if v, ok := strings.CutPrefix(e, name); ok {
			return v
		}
	}
	k := koanf.New(".")
	if src.File != "" {
		_ = k.Load(file.Provider(src.File), yaml.Parser())
	}
	return k.String(key)
}

// scalarPaths maps environment names (without prefix) to key paths for every
// field of t that is not a map.
func scalarPaths(t reflect.Type, prefix string) map[string]string {
	out := map[string]string{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("koanf"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		path := prefix + tag
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Struct:
			for k, v := range scalarPaths(ft, path+".") {
				out[k] = v
			}
		case reflect.Map:
		default:
			out[strings.ToUpper(strings.ReplaceAll(path, ".", "_"))] = path
		}
	}
	return out
}

// Dump renders a merged configuration as YAML (for -T), secrets hidden:
// every password shows as Hidden.
func Dump(k *koanf.Koanf) ([]byte, error) {
	c := k.Copy()
	for _, key := range c.Keys() {
		if key == "password" || strings.HasSuffix(key, ".password") {
			if err := c.Set(key, Hidden); err != nil {
				return nil, err
			}
		}
	}
	return c.Marshal(yaml.Parser())
}

// Hidden stands for a secret in Dump's output.
const Hidden = "<hidden>"

// fieldError is a validation error naming the field.
func fieldError(where, field, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s: %s", where, ErrInvalid, field, fmt.Sprintf(format, args...))
}

// where names a configuration in errors: "config FILE", or "config" for
// one without a file.
func where(file string) string {
	if file == "" {
		return "config"
	}
	return "config " + file
}
