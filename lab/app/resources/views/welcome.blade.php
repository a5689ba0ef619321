<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <title>{{ config('app.name') }}</title>
</head>
<body>
    <h1>{{ config('app.name') }}</h1>
    <p>Release {{ config('app.version') }} on {{ gethostname() }}.</p>
</body>
</html>
