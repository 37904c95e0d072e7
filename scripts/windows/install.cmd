@echo off
rem SPDX-License-Identifier: MIT
rem
rem install.cmd: installs quarantined as a Windows service.  Run it from an
rem elevated prompt, from the folder that holds quarantined.exe (for
rem instance C:\Program Files\quarantined):
rem
rem   install.cmd [/account:ACCOUNT] [/start:auto|delayed-auto|demand]
rem               [/exe:PATH] [/data:DIR]
rem
rem   /account  the service account; default the virtual account
rem             "NT SERVICE\quarantined", which needs no password and has
rem             no rights beyond what is granted to it by name
rem             (https://learn.microsoft.com/en-us/windows/security/identity-protection/access-control/service-accounts).
rem             A group managed service account is given as DOMAIN\name$.
rem   /start    the start type; default auto.  delayed-auto starts it a
rem             little after the other automatic services (wine's sc.exe
rem             takes it as demand).
rem   /exe      quarantined.exe; default the one beside this script.
rem   /data     the data folder; default %ProgramData%\quarantined.
rem
rem What it does, each step with sc.exe, reg.exe or icacls.exe (all part of
rem Windows, and of wine, under which tests/win32 runs it):
rem  1. the service "quarantined": its command line
rem     "EXE" -f "DATA\quarantined.conf", the account, the start type, a
rem     display name and description, and recovery actions: restart after
rem     1 minute twice, then after 5 minutes, the failure count reset after a
rem     day (sc create, sc description, sc failure:
rem     https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/sc-create
rem     and .../sc-failure);
rem  2. the recovery actions also when the service stops itself with an
rem     error, not only when the process dies (sc failureflag 1:
rem     https://learn.microsoft.com/en-us/windows/win32/api/winsvc/ns-winsvc-service_failure_actions_flag),
rem     and the service SID type unrestricted, so the account's SID
rem     (NT SERVICE\quarantined) can be named in an ACL (sc sidtype);
rem     wine's sc.exe has neither command: a warning, not a failure;
rem  3. the event source "quarantined" in the Application log, with the
rem     executable as its message file (EventMessageFile, TypesSupported 7:
rem     error, warning, information;
rem     https://learn.microsoft.com/en-us/windows/win32/eventlog/event-sources);
rem  4. the data folder, inheriting nothing: full control for SYSTEM and
rem     Administrators, modify for the service account (state, spools,
rem     alerts), and the same for what is created inside it.
rem
rem It stops at the first step that fails, names it and exits 1; a service
rem already there is left alone (run uninstall.cmd first, or upgrade as
rem README.md says).  Nothing is started: write the configuration and the
rem secret, check them with "quarantined.exe -n -f CONF", then
rem "sc start quarantined".

setlocal EnableExtensions
set "SVC=quarantined"
set "ACCOUNT=NT SERVICE\%SVC%"
set "START=auto"
set "EXE=%~dp0quarantined.exe"
set "DATA=%ProgramData%\%SVC%"

:args
if "%~1"=="" goto checked
set "ARG=%~1"
if /i "%ARG:~0,9%"=="/account:" (set "ACCOUNT=%ARG:~9%" & shift & goto args)
if /i "%ARG:~0,7%"=="/start:" (set "START=%ARG:~7%" & shift & goto args)
if /i "%ARG:~0,5%"=="/exe:" (set "EXE=%ARG:~5%" & shift & goto args)
if /i "%ARG:~0,6%"=="/data:" (set "DATA=%ARG:~6%" & shift & goto args)
echo install.cmd: unknown argument %1 (see the comment at the top) 1>&2
exit /b 2

:checked
if /i not "%START%"=="auto" if /i not "%START%"=="delayed-auto" if /i not "%START%"=="demand" (
  echo install.cmd: /start: '%START%' is not auto, delayed-auto or demand 1>&2
  exit /b 2
)
if not exist "%EXE%" (
  echo install.cmd: %EXE% does not exist; give /exe:PATH 1>&2
  exit /b 1
)
sc query %SVC% >nul 2>&1
if not errorlevel 1 (
  echo install.cmd: the service %SVC% exists already; run uninstall.cmd first, or stop it and replace the executable to upgrade 1>&2
  exit /b 1
)

echo install.cmd: creating the service %SVC% as %ACCOUNT%
sc create %SVC% binPath= "\"%EXE%\" -f \"%DATA%\quarantined.conf\"" start= %START% obj= "%ACCOUNT%" DisplayName= "quarantined (Entra ID quarantined attribute monitor)"
if errorlevel 1 (set "STEP=sc create" & goto failed)
sc description %SVC% "Watches Microsoft Entra ID for UPN and proxy address conflicts quarantined by Duplicate Attribute Resiliency and alerts on them."
if errorlevel 1 (set "STEP=sc description" & goto failed)
sc failure %SVC% reset= 86400 actions= restart/60000/restart/60000/restart/300000
if errorlevel 1 (set "STEP=sc failure" & goto failed)
sc failureflag %SVC% 1 >nul 2>&1
if errorlevel 1 echo install.cmd: warning: sc failureflag %SVC% 1 failed; a stop with an error will not be restarted
sc sidtype %SVC% unrestricted >nul 2>&1
if errorlevel 1 echo install.cmd: warning: sc sidtype %SVC% unrestricted failed; a virtual account needs the service SID

echo install.cmd: registering the event source %SVC%
reg add "HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\%SVC%" /v EventMessageFile /t REG_EXPAND_SZ /d "%EXE%" /f >nul
if errorlevel 1 (set "STEP=reg add EventMessageFile" & goto failed)
reg add "HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\%SVC%" /v TypesSupported /t REG_DWORD /d 7 /f >nul
if errorlevel 1 (set "STEP=reg add TypesSupported" & goto failed)

echo install.cmd: making %DATA% readable only by %ACCOUNT%, SYSTEM and Administrators
if not exist "%DATA%\" mkdir "%DATA%"
if not exist "%DATA%\" (set "STEP=mkdir %DATA%" & goto failed)
rem *S-1-5-18 is SYSTEM and *S-1-5-32-544 Administrators, in any language.
icacls "%DATA%" /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F" "%ACCOUNT%:(OI)(CI)M"
if errorlevel 1 (set "STEP=icacls %DATA%" & goto failed)

echo install.cmd: done.  Next: write %DATA%\quarantined.conf, check it with
echo   "%EXE%" -n -f "%DATA%\quarantined.conf"
echo and start the service with: sc start %SVC%
exit /b 0

:failed
echo install.cmd: %STEP% failed; what was done so far stays (uninstall.cmd removes it) 1>&2
exit /b 1
