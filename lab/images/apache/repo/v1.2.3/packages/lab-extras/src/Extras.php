<?php

namespace Lab\Extras;

final class Extras
{
    // What `composer install` copied into vendor/ (path repository, mirrored, not linked):
    // after a checkout without `composer install`, vendor/ still has the old one.
    public const VERSION = '1.1.0';
}
