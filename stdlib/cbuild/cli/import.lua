-- cbuild import FILE|- [REPOSITORY[:TAG]]: a root filesystem tarball (plain, gzip, zstd, xz)
-- becomes a one-layer image, like `docker import`.  The layer is rewritten uncompressed and
-- normalised (names cleaned, nothing escaping "/").
local archive = require "cbuild.core.archive"
local json = require "cbuild.core.json"
local sys = require "cbuild.core.sys"
local errors = require "cbuild.errors"
local imgconfig = require "cbuild.image.config"
local images_mod = require "cbuild.image.store"
local reference = require "cbuild.image.reference"

local M = { summary = "Import the contents from a tarball to create a filesystem image" }

function M.setup(cmd)
  cmd:argument("file", "Tarball path, or - for STDIN.")
  cmd:argument("repository", "REPOSITORY[:TAG] to name the image."):args "?"
  cmd:option("-m --message", "Set a commit message for the imported image.")
  cmd:option("--platform", "Set the platform (os/arch) recorded in the image.")
end

function M.run(args, ctx)
  local ref = args.repository and reference.must(args.repository)
  local platform = imgconfig.host_platform()
  if args.platform then
    platform = errors.need("--platform", imgconfig.parse_platform(args.platform))
  end
  local images = ctx:store()
  local src = args.file == "-" and "/dev/stdin" or args.file
  local lw <close> = errors.need("import", archive.layer_writer(images.blobs))
  errors.need("import '" .. args.file .. "'", archive.copy_into(src, lw, { prefix = "" }))
  local diff, size = errors.need("import", lw:commit())
  local sec, nsec = sys.clock_gettime()
  local epoch = tonumber(os.getenv "SOURCE_DATE_EPOCH" or "")
  local created = epoch and imgconfig.timestamp(epoch) or imgconfig.timestamp(sec, nsec)
  local cfg = {
    architecture = platform.architecture,
    os = platform.os,
    variant = platform.variant,
    created = created,
    config = json.object {},
    rootfs = { type = "layers", diff_ids = json.array { diff } },
    history = json.array { {
      created = created,
      created_by = "",
      comment = args.message or ("Imported from " .. args.file),
    } },
  }
  local desc = images:put_image(cfg, { { digest = diff, size = size, mediaType = images_mod.LAYER } })
  if ref then
    images:tag(desc, ref)
  else
    images:add_unnamed(desc)
  end
  io.stdout:write(desc.config, "\n")
  return 0
end

return M
