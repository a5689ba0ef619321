@extends('errors::minimal')

@section('title', __('Service Unavailable'))
@section('code', '503')
{{-- Laravel 8 dropped `down --message`; a message is given by pre-rendering this view:
     MAINTENANCE_MESSAGE="Back at 14:00" php artisan down --render=errors::503 --}}
@section('message', getenv('MAINTENANCE_MESSAGE') ?: __('Service Unavailable'))
