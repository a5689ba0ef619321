<?php

use Illuminate\Database\Migrations\Migration;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Support\Facades\Schema;

// A harmless table nothing reads: it gives every host a second migration, so a
// `migrate:rollback --step=1` has something to undo without touching failed_jobs.
class CreateLabNotesTable extends Migration
{
    public function up(): void
    {
        Schema::create('lab_notes', function (Blueprint $table) {
            $table->id();
            $table->string('note');
            $table->timestamps();
        });
    }

    public function down(): void
    {
        Schema::dropIfExists('lab_notes');
    }
}
