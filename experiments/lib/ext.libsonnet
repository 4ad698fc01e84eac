// External variables with defaults: `ext.get('model', 'roberta-base')` is the value given with
// `--ext-var model=...`, else the default. (tartan-fw passes every --ext-var, as an object, in
// the external variable `tartan_ext_vars`, since std.extVar alone has no defaults.)
local given = std.extVar('tartan_ext_vars');

{
  get(name, default):: if std.objectHas(given, name) then given[name] else default,
  has(name):: std.objectHas(given, name),
  number(name, default):: if std.objectHas(given, name) then std.parseJson(given[name]) else default,
  // The named ext-vars that were given, parsed as JSON: settings whose defaults live in Python.
  given(names):: { [name]: std.parseJson(given[name]) for name in names if std.objectHas(given, name) },
}
