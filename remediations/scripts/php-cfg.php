# Prints the php.ini settings named as arguments as the ini files PHP loaded set them
# (php_ini_loaded_file() then php_ini_scanned_files(), in PHP's order, the last one
# winning), else PHP's built-in default, as one JSON object (null for an unknown setting).
# Not ini_get(), nor get_cfg_var(): the CLI forces max_execution_time=0 and a few others.
# remediations.laravel.php runs it as `env PHP_INI_SCAN_DIR=DIR php -c INI -r CODE -- NAME...`
# to read what another SAPI (mod_php in Apache) loads from those files.
# Arguments: $argv[1..] the setting names.
# Exit: 0.

$d = ['max_execution_time' => '30', 'max_input_time' => '-1', 'output_buffering' => '0', 'implicit_flush' => '0', 'html_errors' => '1', 'register_argc_argv' => '1']; $files = array_filter(array_merge([php_ini_loaded_file()], array_map('trim', explode(',', (string) php_ini_scanned_files())))); $set = []; foreach ($files as $f) { $v = @parse_ini_file($f, false, INI_SCANNER_NORMAL); if (is_array($v)) { $set = array_merge($set, $v); } } $o = []; foreach (array_slice($argv, 1) as $n) { if (array_key_exists($n, $set) && !is_array($set[$n])) { $v = $set[$n]; } elseif (array_key_exists($n, $d)) { $v = $d[$n]; } else { $v = ini_get($n); } $o[$n] = $v === false ? null : (string) $v; } echo json_encode($o);
