#!/bin/sh
# Prints the server parameters of this image's PostgreSQL as JSON, from its own pg_settings:
# name, type, unit, range and enum values of every parameter. It is the source of the committed
# catalogs in lib/model/parameter-catalog/ (podrt/image-facts.test.ts regenerates and compares).
# `postgres --describe-config` lists names, types and ranges, but no units and no enum values,
# so a throw-away server in a temporary directory answers instead. Run as the image's postgres
# user, with a private writable /tmp; needs nothing else.
set -eu
dir=$(mktemp -d /tmp/parameter-catalog.XXXXXX)
trap 'pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
initdb -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
pg_ctl -D "$dir/data" -o "-c listen_addresses='' -k $dir -c fsync=off" -l "$dir/log" -w start >/dev/null
# One object per parameter, by name; custom (dotted) parameters of loaded modules left out.
psql -h "$dir" -U postgres -d postgres -XAtq -c "
  SELECT json_build_object(
    'major', current_setting('server_version_num')::int / 10000,
    'parameters', json_object_agg(name, json_strip_nulls(json_build_object(
      'type', vartype,
      'unit', unit,
      'min', CASE WHEN vartype IN ('integer', 'real') THEN min_val::numeric END,
      'max', CASE WHEN vartype IN ('integer', 'real') THEN max_val::numeric END,
      'values', enumvals)) ORDER BY name))
  FROM pg_settings WHERE name NOT LIKE '%.%'"
