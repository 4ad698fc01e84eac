// External variables with defaults: `ext.get('model', 'roberta-base')` is the value given with
// `--ext-var model=...`, else the default. (tartan-fw passes every --ext-var, as an object, in
// the external variable `tartan_ext_vars`, since std.extVar alone has no defaults.)
local given = std.extVar('tartan_ext_vars');

// std.parseJson reports bad text as a parser offset that names neither the ext-var nor what it should
// be, so the text is checked first and a mistake names the --ext-var and the fix.
local numeric(text) =
  std.length(text) > 0 && std.member('0123456789', text[std.length(text) - 1])
  && std.all([std.member('0123456789.-+eE', c) for c in std.stringChars(text)]);
local json(text) =
  numeric(text) || std.member(['true', 'false', 'null'], text) || (std.length(text) > 0 && std.member('"[{', text[0]));
local parsed(name, expected, check) =
  if check(given[name]) then std.parseJson(given[name])
  else error '--ext-var %s=%s: expected %s' % [name, given[name], expected];

{
  get(name, default):: if std.objectHas(given, name) then given[name] else default,
  has(name):: std.objectHas(given, name),
  number(name, default):: if std.objectHas(given, name) then parsed(name, 'a number', numeric) else default,
  // The named ext-vars that were given, parsed as JSON: settings whose defaults live in Python.
  given(names):: {
    [name]: parsed(name, 'a JSON value (a number, true, false, or a "quoted string")', json)
    for name in names if std.objectHas(given, name)
  },
}
