# Prints the CLI's php.ini settings named as arguments, as one JSON object (null for an
# unknown setting); remediations.laravel.php reads it. Run as `php -r CODE -- NAME...`.
# Arguments: $argv[1..] the setting names.
# Exit: 0.

$o = []; foreach (array_slice($argv, 1) as $n) { $v = ini_get($n); $o[$n] = $v === false ? null : $v; } echo json_encode($o);
