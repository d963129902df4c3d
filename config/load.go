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
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// EnvPrefix starts every environment variable the daemons read.
const EnvPrefix = "BANFLEET_"

// Source says where a configuration comes from.
type Source struct {
	File      string         // YAML file; "" = none
	Overrides map[string]any // flat key paths set by flags, applied last
	Environ   []string       // environment; nil = os.Environ()
}

// load merges defaults, file, environment and overrides into out (a pointer
// to a struct with koanf tags) and returns the merged koanf instance.
func load(src Source, defaults map[string]any, out any, under ...koanf.Provider) (*koanf.Koanf, error) {
	where := "config"
	if src.File != "" {
		where = "config " + src.File
	}
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
	envKeys := scalarPaths(reflect.TypeOf(out).Elem(), "")
	environ := src.Environ
	if environ == nil {
		environ = os.Environ()
	}
	ep := env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(k, v string) (string, any) {
			path, ok := envKeys[strings.TrimPrefix(k, EnvPrefix)]
			if !ok {
				return "", nil
			}
			return path, v
		},
	})
	if err := k.Load(ep, nil); err != nil {
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

// peekString reads one top-level string key from the file and environment
// before the real load (for keys that decide what else to load).
func peekString(src Source, key string) string {
	k := koanf.New(".")
	if src.File != "" {
		_ = k.Load(file.Provider(src.File), yaml.Parser())
	}
	environ := src.Environ
	if environ == nil {
		environ = os.Environ()
	}
	name := EnvPrefix + strings.ToUpper(key) + "="
	for _, e := range environ {
		if v, ok := strings.CutPrefix(e, name); ok {
			return v
		}
	}
	if v, ok := src.Overrides[key].(string); ok {
		return v
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

// Dump renders a merged configuration as YAML (for -T).
func Dump(k *koanf.Koanf) ([]byte, error) { return k.Marshal(yaml.Parser()) }

// fieldError is a validation error naming the field.
func fieldError(where, field, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s: %s", where, ErrInvalid, field, fmt.Sprintf(format, args...))
}
