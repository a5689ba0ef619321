<?php

namespace App\Http\Controllers;

use App\Support\ReleaseChecks;
use Illuminate\Http\JsonResponse;

// Release v1.2.4 is broken on purpose (the lab's rollback target): it calls a class that
// was never shipped, so every health probe answers HTTP 500.
class HealthController extends Controller
{
    public function __invoke(): JsonResponse
    {
        return response()->json([
            'status' => ReleaseChecks::status(),
            'version' => config('app.version'),
        ]);
    }
}
