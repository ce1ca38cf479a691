console.log("no native helper yet")
