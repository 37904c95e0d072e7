@echo off
rem SPDX-License-Identifier: MIT
rem
rem uninstall.cmd: removes what install.cmd made.  Run it from an elevated
rem prompt:
rem
rem   uninstall.cmd [/purge] [/data:DIR]
rem
rem It stops the service "quarantined" (waiting up to 60 s for STOPPED:
rem the daemon finishes its cycle and spools alerts), deletes it and the
rem event source "quarantined" of the Application log.  The data folder
rem (default %ProgramData%\quarantined: configuration, secrets, state, the
rem apply journal, undelivered alerts) stays unless /purge is given; the
rem events already written stay in the Application log.  A step with
rem nothing to remove is skipped, so running it twice is harmless; it exits
rem 1 when a removal fails.

setlocal EnableExtensions
set "SVC=quarantined"
set "DATA=%ProgramData%\%SVC%"
set "PURGE="
set "RC=0"

:args
if "%~1"=="" goto parsed
set "ARG=%~1"
if /i "%ARG%"=="/purge" (set "PURGE=1" & shift & goto args)
if /i "%ARG:~0,6%"=="/data:" (set "DATA=%ARG:~6%" & shift & goto args)
echo uninstall.cmd: unknown argument %1 (see the comment at the top) 1>&2
exit /b 2

:parsed
sc query %SVC% >nul 2>&1
if errorlevel 1 (
  echo uninstall.cmd: no service %SVC%
  goto source
)
sc query %SVC% | find "STOPPED" >nul
if not errorlevel 1 goto delete
echo uninstall.cmd: stopping the service %SVC%
sc stop %SVC% >nul
rem ping is the sleep every Windows (and wine) has: about a second a try.
for /l %%i in (1,1,60) do (
  sc query %SVC% | find "STOPPED" >nul && goto delete
  ping -n 2 127.0.0.1 >nul
)
echo uninstall.cmd: the service %SVC% did not stop within 60 s; deleting it anyway (it goes when it stops) 1>&2

:delete
echo uninstall.cmd: deleting the service %SVC%
sc delete %SVC% >nul
if errorlevel 1 (
  echo uninstall.cmd: sc delete %SVC% failed 1>&2
  set "RC=1"
)

:source
reg query "HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\%SVC%" >nul 2>&1
if errorlevel 1 goto data
echo uninstall.cmd: removing the event source %SVC%
reg delete "HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\%SVC%" /f >nul
if errorlevel 1 (
  echo uninstall.cmd: reg delete of the event source failed 1>&2
  set "RC=1"
)

:data
if not defined PURGE (
  if exist "%DATA%\" echo uninstall.cmd: %DATA% stays ^(configuration, secrets, state^); /purge removes it
  exit /b %RC%
)
if not exist "%DATA%\" exit /b %RC%
echo uninstall.cmd: removing %DATA%
rmdir /s /q "%DATA%"
if exist "%DATA%\" (
  echo uninstall.cmd: could not remove %DATA% 1>&2
  set "RC=1"
)
exit /b %RC%
